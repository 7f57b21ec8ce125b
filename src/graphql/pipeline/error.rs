//! `extensions.code` is written here and nowhere else: for a service error (its code, and what
//! the code promises beside it: `productId`, `limit`, `retryAfterSeconds`), for the pipeline's
//! own refusals, and for async-graphql's errors, which come without one. An error that would
//! reach the caller without a code any other way is a bug: its text is logged and replaced.

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::domain::ErrorCode;
use crate::service::ServiceError;
use crate::service::error::retry_after_seconds;

fn coded(code: ErrorCode) -> ErrorExtensionValues {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    extensions
}

/// A service error's `extensions`: its code, and the details that code comes with.
fn extensions_of(error: &ServiceError) -> ErrorExtensionValues {
    let mut extensions = coded(error.code());
    match error {
        ServiceError::ProductNotFound(id) => extensions.set("productId", *id),
        ServiceError::FavoritesLimitReached { limit } => extensions.set("limit", *limit),
        ServiceError::RateLimited { retry_after, .. } => {
            extensions.set("retryAfterSeconds", retry_after_seconds(*retry_after));
        }
        _ => {}
    }
    extensions
}

/// The only way a service error becomes a GraphQL error: with its code, always.
impl From<ServiceError> for async_graphql::Error {
    fn from(error: ServiceError) -> Self {
        async_graphql::Error {
            message: error.message(),
            source: None,
            extensions: Some(extensions_of(&error)),
        }
    }
}

/// An error of the whole request (no path), for a refusal made before anything ran.
pub fn refusal(code: ErrorCode, message: impl Into<String>) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions = Some(coded(code));
    error
}

/// A service error that stops a whole request before GraphQL runs (authentication, the
/// caller's allowance), shaped like any other error.
pub fn service_refusal(error: &ServiceError) -> ServerError {
    let mut refusal = ServerError::new(error.message(), None);
    refusal.extensions = Some(extensions_of(error));
    refusal
}

pub(super) fn set_code(error: &mut ServerError, code: ErrorCode) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", code.as_str());
}

/// The code an error carries: the one place one is read back, to code async-graphql's own
/// errors (which have none) and to count answers by code.
pub fn code_of(error: &ServerError) -> Option<ErrorCode> {
    match error.extensions.as_ref()?.get("code")? {
        Value::String(code) => ErrorCode::parse(code),
        _ => None,
    }
}

/// Codes for a request async-graphql refused before running it: a literal that does not fit its
/// argument's type is the caller's input, an operation name that picks no operation is the
/// request's fault, and anything else (validation, the nesting and directive limits) the
/// document's. Returns the first error's code, which the refusal is answered by.
pub fn code_refusals(errors: &mut [ServerError]) -> ErrorCode {
    for error in errors.iter_mut().filter(|error| code_of(error).is_none()) {
        let code = if is_input_value_error(&error.message) {
            ErrorCode::BadUserInput
        } else if error.message.starts_with("Unknown operation named")
            || error.message.starts_with("Operation name required")
        {
            ErrorCode::BadRequest
        } else {
            ErrorCode::GraphqlValidationFailed
        };
        set_code(error, code);
    }
    errors
        .first()
        .and_then(code_of)
        .unwrap_or(ErrorCode::GraphqlValidationFailed)
}

/// Codes for the errors of an operation that ran and have none yet: input values that do not
/// fit their type (found while resolving), and bugs.
pub fn code_the_rest(errors: &mut [ServerError]) {
    for error in errors.iter_mut().filter(|error| code_of(error).is_none()) {
        let code = if is_input_value_error(&error.message) {
            ErrorCode::BadUserInput
        } else if error.path.is_empty() {
            ErrorCode::BadRequest
        } else {
            tracing::error!(message = %error.message, path = ?error.path, "uncoded error");
            error.message = "internal server error".to_owned();
            ErrorCode::InternalServerError
        };
        set_code(error, code);
    }
}

/// A value that does not fit its argument's type, caught while resolving.
fn is_input_value_error(message: &str) -> bool {
    message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.starts_with("Expected input type")
        || message.starts_with("Variable")
}
