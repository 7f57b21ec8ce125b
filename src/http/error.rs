//! Errors the HTTP layer answers itself, before (or instead of) GraphQL: the GraphQL-shaped body
//! every client can read a code from, and the one mapping of a service error to an HTTP status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::service::{ServiceError, code, error::retry_after_seconds};

/// A GraphQL-shaped error answer, so every client finds `extensions.code` whatever failed.
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (status, axum::Json(body)).into_response()
}

/// `503` with `Retry-After` and code `OVERLOADED`: refused at once rather than kept waiting.
pub fn overloaded(message: &str) -> Response {
    let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, code::OVERLOADED, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The status a service error answers with when it stops a request before GraphQL runs (or on
/// the REST door).
pub fn status_of(error: &ServiceError) -> StatusCode {
    match error.code() {
        code::UNAUTHENTICATED => StatusCode::UNAUTHORIZED,
        code::FORBIDDEN => StatusCode::FORBIDDEN,
        code::RATE_LIMITED => StatusCode::TOO_MANY_REQUESTS,
        code::DATABASE_UNAVAILABLE | code::UPSTREAM_UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
        code::BAD_USER_INPUT | code::BAD_REQUEST => StatusCode::BAD_REQUEST,
        code::NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A service error as a whole GraphQL-shaped answer, with its status and headers.
pub fn service_error_response(error: &ServiceError) -> Response {
    let mut extensions = Map::new();
    extensions.insert("code".into(), Value::from(error.code()));
    if let Some((name, value)) = error.details() {
        extensions.insert(name.into(), Value::from(value));
    }
    let body = json!({ "errors": [{ "message": error.message(), "extensions": extensions }] });
    with_headers(error, (status_of(error), axum::Json(body)).into_response())
}

/// What the status asks for: `Retry-After` with a 429, `WWW-Authenticate` with a 401.
pub fn with_headers(error: &ServiceError, mut response: Response) -> Response {
    let headers = response.headers_mut();
    match error {
        ServiceError::RateLimited { retry_after, .. } => {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(*retry_after)),
            );
        }
        ServiceError::Unauthenticated(_) => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    response
}
