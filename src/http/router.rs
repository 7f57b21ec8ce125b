//! The routes, and the layers around them in the order a request meets them.

use axum::Router;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use super::{
    AppState, admission, cors, graphql, health, metrics, middleware, request_span, rest_login,
    subscriptions,
};

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
        .route("/api/v1/auth/master-token", post(rest_login::master_token))
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
