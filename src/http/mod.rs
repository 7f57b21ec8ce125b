//! Everything about transport: the router, its middleware, the GraphQL and REST handlers, and
//! how the server starts and stops.

mod admission;
mod auth;
mod client_address;
mod connection_init;
mod cors;
mod error;
mod graphiql;
mod graphql;
mod graphql_request;
mod health;
mod lifecycle;
mod metrics;
mod middleware;
mod negotiation;
mod paced;
mod request_span;
mod serve;
mod server;
mod subscription_limit;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::config::CorsOrigins;
use crate::graphql::Api;
use crate::service::Services;
use crate::telemetry::Metrics;

pub use graphiql::{ASSET_FILES as GRAPHIQL_ASSET_FILES, GraphiqlPage};
pub use lifecycle::Lifecycle;
pub use server::{Application, StartupError};

/// What every handler shares, behind one `Arc`: axum clones the state for each extractor of
/// each request, and a field-by-field clone showed in profiles of the cheapest requests.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub api: Api,
    pub services: Services,
    pub limits: HttpLimits,
    pub graphiql: GraphiqlPage,
    /// Origins allowed to call us from a browser.
    pub cors_allowed_origins: CorsOrigins,
    pub metrics: Metrics,
    pub websockets: WebSocketLimits,
    pub admission: admission::Admission,
    pub lifecycle: Lifecycle,
}

/// What keeps WebSockets that have not authenticated yet from costing much.
#[derive(Clone)]
pub struct WebSocketLimits {
    /// One permit per socket still waiting for its `connection_init`.
    pub unauthenticated: Arc<tokio::sync::Semaphore>,
    /// One permit per open GraphQL WebSocket.
    pub open: Arc<tokio::sync::Semaphore>,
    pub max_message_bytes: usize,
    pub max_subscriptions_per_connection: usize,
}

impl FromRef<AppState> for GraphiqlPage {
    fn from_ref(state: &AppState) -> Self {
        state.graphiql.clone()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub request_timeout: Duration,
    pub trust_proxy: bool,
}

/// Answers over 1 KiB go out compressed (gzip, brotli or zstd, as `Accept-Encoding` allows), at a
/// level that costs little CPU: a page of clients with their favorites shrinks about tenfold.
fn compression() -> CompressionLayer<SizeAbove> {
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(4))
        .compress_when(SizeAbove::new(1024))
}

pub fn router(state: AppState) -> Router {
    let limits = state.limits;
    let cors = cors::layer(&state.cors_allowed_origins);
    // Layers run outside in: the last added runs first. So a request meets the content-type
    // check, then the body limit (which reads the body, under its own timeout), then admission
    // (a turn to do work, or 503 at once), and only then the deadline for the work itself.
    let api = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/api/v1/auth/master-token", post(auth::master_token))
        .layer(axum::middleware::from_fn_with_state(
            limits.request_timeout,
            middleware::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.admission.clone(),
            admission::admit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            middleware::BodyLimits {
                max_bytes: limits.max_body_bytes,
                read_timeout: limits.request_timeout,
            },
            middleware::limit_body,
        ))
        .layer(axum::middleware::from_fn(middleware::require_json))
        .layer(compression());
    let router = Router::new()
        .merge(api)
        .merge(state.graphiql.routes().layer(compression()))
        // Outside the API's body and deadline checks: a WebSocket lives on.
        .route("/graphql/ws", get(subscriptions::graphql_ws))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(CatchPanicLayer::custom(middleware::panic_response));
    // Outside the API's own checks, so that a preflight is answered before them and a refusal
    // (413, 415...) still carries the headers a browser needs to read it.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::count_responses,
        ))
        .layer(request_span::layer())
        .with_state(state)
}
