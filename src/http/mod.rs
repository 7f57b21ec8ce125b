//! Everything about transport: the router, the GraphQL and REST handlers, and how the server
//! starts and stops.

mod auth;
mod graphql;
mod server;

use axum::Router;
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
use crate::catalog::Catalog;
use crate::graphql::AppSchema;

pub use server::{Application, StartupError};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub catalog: Catalog,
    pub authenticator: Authenticator,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::graphiql).post(graphql::graphql_handler),
        )
        .route("/api/v1/auth/master-token", post(auth::master_token))
        .route("/healthz", get(health))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
