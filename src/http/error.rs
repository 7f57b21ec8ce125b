//! Errors the HTTP layer answers itself, before (or instead of) GraphQL: the one mapping of an
//! error code to an HTTP status, and the GraphQL-shaped body every GraphQL client can read a code from.

use std::time::Duration;

use async_graphql::ServerError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::ErrorCode;
use crate::graphql::pipeline::error::{refusal, service_refusal};
use crate::service::ServiceError;
use crate::service::error::retry_after_seconds;

/// The status of an answer that a code stops whole: before GraphQL runs, on the REST door, or
/// a GraphQL request that could not run at all (in `application/graphql-response+json`).
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound | ErrorCode::ProductNotFound => StatusCode::NOT_FOUND,
        ErrorCode::EmailTaken | ErrorCode::FavoritesLimitReached => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::BadUserInput
        | ErrorCode::BadRequest
        | ErrorCode::GraphqlParseFailed
        | ErrorCode::GraphqlValidationFailed
        | ErrorCode::PersistedQueryNotFound
        | ErrorCode::PersistedQueryNotSupported
        | ErrorCode::BatchTooLarge => StatusCode::BAD_REQUEST,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
        ErrorCode::UpstreamUnavailable
        | ErrorCode::DatabaseUnavailable
        | ErrorCode::Overloaded
        | ErrorCode::RequestTimeout => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"errors": [error]}` with `status`.
fn body(status: StatusCode, error: &ServerError) -> Response {
    (status, axum::Json(json!({ "errors": [error] }))).into_response()
}

/// A refusal of the HTTP layer's own: its code, with the status the code has.
pub fn error_response(code: ErrorCode, message: &str) -> Response {
    body(status_of(code), &refusal(code, message))
}

/// How long an overloaded server asks a caller to wait before asking again (`Retry-After`).
pub const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// `503` with `Retry-After` and code `OVERLOADED`: refused at once rather than kept waiting.
pub fn overloaded(message: &str) -> Response {
    let mut response = error_response(ErrorCode::Overloaded, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(OVERLOADED_RETRY_AFTER.as_secs()),
    );
    response
}

/// A service error that stops the whole request (authentication, the caller's allowance), with
/// its status and the headers that status asks for.
pub fn service_error_response(error: &ServiceError) -> Response {
    with_headers(
        error,
        body(status_of(error.code()), &service_refusal(error)),
    )
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
