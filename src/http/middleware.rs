//! Request guards that run before any handler: body size, content type, a whole-request
//! deadline, and panics turned into a coded 500 for that request only.

use std::any::Any;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::error_response;
use crate::domain::ErrorCode;

#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// How long the caller may take to send the body.
    pub read_timeout: Duration,
}

/// Reads the body before anything parses it: over `max_bytes` is 413, slower than
/// `read_timeout` is 408 (the caller's doing, so not a 5xx). The GraphQL extractor reads the
/// body as a stream, so axum's own default limit does not apply to it.
pub async fn limit_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let limit = limits.max_bytes;
    let too_large = || {
        error_response(
            ErrorCode::PayloadTooLarge,
            &format!("request bodies are limited to {limit} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limits.read_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => too_large(),
        Err(_) => error_response(
            ErrorCode::BodyTimeout,
            "the request body took too long to arrive",
        ),
    }
}

/// POSTs must say they carry JSON. This also closes cross-site requests from plain HTML
/// forms, which can only send form encodings and text/plain without a CORS preflight.
pub async fn require_json(request: Request, next: Next) -> Response {
    if request.method() == Method::POST {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return error_response(
                ErrorCode::UnsupportedMediaType,
                "send the request as application/json",
            );
        }
    }
    next.run(request).await
}

/// No request runs longer than the deadline; the caller gets a coded 503 instead.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            error_response(
                ErrorCode::RequestTimeout,
                "the request took too long, try again later",
            )
        }
    }
}

/// Routes and methods that do not exist still answer JSON with a code.
pub async fn not_found() -> Response {
    error_response(ErrorCode::NotFound, "no such route")
}

pub async fn method_not_allowed() -> Response {
    error_response(
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

/// For `tower_http::catch_panic`: the panicking request gets a coded 500, the server goes on.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = detail, "a request handler panicked");
    error_response(ErrorCode::InternalServerError, "internal server error")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_coded_500() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
        assert_eq!(body["errors"][0]["message"], "internal server error");
    }
}
