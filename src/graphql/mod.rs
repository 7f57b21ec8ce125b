//! The GraphQL API: schema, types, guards, loaders and the mapping of errors to codes.

pub mod error;
pub mod guards;
pub mod loaders;
mod mutation;
pub mod pagination;
mod query;
pub mod types;

use async_graphql::{EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::Authenticator;
use crate::catalog::Catalog;

pub use mutation::MutationRoot;
pub use query::QueryRoot;

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema with its process-wide data. Per-request data (the caller, the DataLoaders) is
/// added by the HTTP handler.
pub fn build_schema(
    db: DatabaseConnection,
    catalog: Catalog,
    authenticator: Authenticator,
) -> AppSchema {
    schema_builder()
        .data(db)
        .data(catalog)
        .data(authenticator)
        .finish()
}

/// The schema without data: enough to print the SDL.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

fn schema_builder() -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription).extension(error::ErrorCodes)
}
