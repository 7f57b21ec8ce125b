//! The span of each HTTP request. With traces off it is tower-http's usual one (DEBUG, so
//! nothing at the default log level); with traces on, an INFO span named `METHOD /path` that
//! continues the caller's `traceparent` and records the status. Never the query string: a GET
//! query carries variables there.

use std::time::Duration;

use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{
    DefaultMakeSpan, DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnRequest,
    DefaultOnResponse, MakeSpan, OnResponse, TraceLayer,
};
use tracing::field::Empty;
use tracing::{Level, Span};

use crate::telemetry::traces;

#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        if !traces::enabled() {
            return DefaultMakeSpan::new().make_span(request);
        }
        let span = tracing::info_span!(
            "request",
            otel.name = %format_args!("{} {}", request.method(), request.uri().path()),
            otel.kind = "server",
            http.request.method = %request.method(),
            url.path = %request.uri().path(),
            http.response.status_code = Empty,
            otel.status_code = Empty,
        );
        traces::continue_trace(&span, request.headers());
        span
    }
}

#[derive(Clone, Copy)]
pub struct RecordStatus;

impl<B> OnResponse<B> for RecordStatus {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        span.record(
            "http.response.status_code",
            i64::from(response.status().as_u16()),
        );
        if response.status().is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        DefaultOnResponse::default().on_response(response, latency, span);
    }
}

/// The request span, and a failure (a 5xx) logged at `DEBUG` only: under overload every
/// refusal is a 503, and a log line for each would cost more than the refusal (bench/run saw
/// 200,000 a second). 5xx answers are counted in `/metrics`; the causes log themselves.
pub fn layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    RecordStatus,
    DefaultOnBodyChunk,
    DefaultOnEos,
    DefaultOnFailure,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(RecordStatus)
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
}
