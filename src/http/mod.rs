//! Everything about transport: the router, its middleware, the GraphQL and REST handlers, and
//! how the server starts and stops.

mod auth;
mod client_address;
mod graphql;
mod health;
mod middleware;
mod server;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use sea_orm::DatabaseConnection;
use tower_http::catch_panic::CatchPanicLayer;
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
    pub limits: HttpLimits,
}

#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub request_timeout: Duration,
    pub trust_proxy: bool,
}

pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    // Layers run outside in: the last added runs first. So a request meets the content-type
    // check, then the body limit (which reads the body, under its own timeout), and only then
    // the deadline for the work itself.
    let api = Router::new()
        .route(
            "/graphql",
            get(graphql::graphiql).post(graphql::graphql_handler),
        )
        .route("/api/v1/auth/master-token", post(auth::master_token))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            middleware::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            middleware::BodyLimits {
                max_bytes: limits.max_body_bytes,
                read_timeout: limits.request_timeout,
            },
            middleware::limit_body,
        ))
        .layer(axum::middleware::from_fn(middleware::require_json));
    Router::new()
        .merge(api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
