//! The GraphQL API, in two parts: `schema`, the types and thin resolvers over the service
//! layer's session, a file per feature; and `pipeline`, what every operation goes through
//! around them (persisted queries, our parse and checks, the response cache, the answer's
//! codes and nulls, metrics), ending in a typed `Outcome` the transports answer from.

pub mod pipeline;
mod schema;

use async_graphql::Schema;

use crate::config::Settings;
use crate::service::Services;
use crate::telemetry::Metrics;

pub use pipeline::{Answer, Api, Outcome, ReadOnly};
pub use schema::{MutationRoot, QueryRoot, SubscriptionRoot};

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Limits checked before any resolver runs (async-graphql limits nothing by default). Sized so
/// that the standard introspection query (GraphiQL, graphql-codegen) and the deepest query in the
/// README pass; `tests/api/document_limits.rs` holds both sides of each line.
pub mod limits {
    /// The introspection query nests 13 deep (its `TypeRef` fragment), the README's deepest 7.
    pub const MAX_DEPTH: usize = 16;
    /// A list field counts as many times as it may hold items (`first`, default 20). A page of
    /// 100 clients with their favorites and product title, price, image and rate weighs about
    /// 14,500 and passes; 100 aliased `clients(first: 100) { nodes { id } }` weigh 20,100 and
    /// do not.
    pub const MAX_COMPLEXITY: usize = 16_000;
    pub const MAX_DIRECTIVES_PER_FIELD: usize = 8;
    /// How deep async-graphql may recurse through selections. Values nested in the text are
    /// bounded before parsing, by `document_guard::MAX_NESTING`.
    pub const MAX_RECURSIVE_DEPTH: usize = 32;
}

/// Switches an operator may turn.
#[derive(Clone, Copy, Debug)]
pub struct SchemaOptions {
    /// Introspection serves GraphiQL and SDK generators. Without it, field suggestions ("Did
    /// you mean ...") are off too, since they would reveal the schema all the same.
    pub introspection: bool,
    /// Memory for automatic persisted queries; 0 turns them off.
    pub persisted_queries_max_bytes: usize,
    /// Memory for whole answers to queries; 0 turns the response cache off.
    pub response_cache_max_bytes: usize,
}

impl SchemaOptions {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            introspection: settings.introspection_enabled,
            persisted_queries_max_bytes: settings.persisted_queries_max_bytes,
            response_cache_max_bytes: settings.response_cache_max_bytes,
        }
    }
}

/// The API: the schema behind the pipeline every operation goes through (`executor`). The
/// schema holds no data of its own: each request brings its `Session` (the caller and the
/// request's loaders), put there by the HTTP layer.
pub fn build_api(options: SchemaOptions, metrics: Metrics, services: &Services) -> Api {
    let mut builder = with_contract(Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    ));
    if !options.introspection {
        builder = builder.disable_introspection().disable_suggestions();
    }
    Api::new(builder.finish(), options, metrics, services)
}

/// The schema without data: enough to print the SDL.
pub fn sdl() -> String {
    with_contract(Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    ))
    .finish()
    .sdl()
}

type Builder = async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>;

/// What the served schema and the printed SDL share: descriptions, error codes and limits.
fn with_contract(builder: Builder) -> Builder {
    builder
        // The stock descriptions speak of Rust types; SDK users read these.
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
            "A point in time, as an RFC 3339 string in UTC (`2026-11-27T11:26:46.123Z`).",
        )
        .override_output_type_description::<uuid::Uuid>(
            "A UUID in its canonical hyphenated form (`0193a5f2-7c1e-7d3a-9f00-123456789abc`).",
        )
        .limit_depth(limits::MAX_DEPTH)
        .limit_complexity(limits::MAX_COMPLEXITY)
        .limit_directives(limits::MAX_DIRECTIVES_PER_FIELD)
        .limit_recursive_depth(limits::MAX_RECURSIVE_DEPTH)
}
