//! `GET /metrics` for Prometheus, and the count of every response by status.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::telemetry::{Metrics, MetricsSnapshot};

pub async fn metrics(State(state): State<AppState>) -> Response {
    let (pool_in_use, pool_idle) = state.services.pool_usage();
    let text = state.metrics.render(MetricsSnapshot {
        pool_in_use: i64::from(pool_in_use),
        pool_idle: i64::from(pool_idle),
        breaker_open: state.services.catalog_breaker_open(),
        requests_working: state.admission.requests_working(),
        requests_parked: state.admission.requests_parked(),
        requests_in_flight: state.admission.requests_in_flight(),
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

pub async fn count_responses(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    metrics.http_response(response.status().as_u16());
    response
}
