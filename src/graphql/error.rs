//! Every error a caller sees carries `extensions.code`: service errors bring theirs (mapped once,
//! in `service::error`), and async-graphql's own errors get one here. An error that would reach
//! the caller without a code any other way is a bug: its text is logged and replaced.

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::service::ServiceError;
pub use crate::service::code;

/// The only way a service error becomes a GraphQL error: with its code, always.
impl From<ServiceError> for async_graphql::Error {
    fn from(error: ServiceError) -> Self {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", error.code());
        if let Some((name, value)) = error.details() {
            extensions.set(name, value);
        }
        async_graphql::Error {
            message: error.message(),
            source: None,
            extensions: Some(extensions),
        }
    }
}

pub(crate) fn set_code(error: &mut ServerError, code: &str) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", Value::from(code));
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
}

/// Codes for a request async-graphql refused before running it: a literal that does not fit its
/// argument's type is the caller's input, an operation name that picks no operation is the
/// request's fault, and anything else (validation, the nesting and directive limits) the
/// document's.
pub fn code_refusals(errors: &mut [ServerError]) {
    for error in errors.iter_mut().filter(|error| !has_code(error)) {
        let code = if is_input_value_error(&error.message) {
            code::BAD_USER_INPUT
        } else if error.message.starts_with("Unknown operation named")
            || error.message.starts_with("Operation name required")
        {
            code::BAD_REQUEST
        } else {
            code::GRAPHQL_VALIDATION_FAILED
        };
        set_code(error, code);
    }
}

/// Codes for the errors of an operation that ran and have none yet: input values that do not
/// fit their type (found while resolving), and bugs.
pub fn code_the_rest(errors: &mut [ServerError]) {
    for error in errors.iter_mut().filter(|error| !has_code(error)) {
        let code = if is_input_value_error(&error.message) {
            code::BAD_USER_INPUT
        } else if error.path.is_empty() {
            code::BAD_REQUEST
        } else {
            tracing::error!(message = %error.message, path = ?error.path, "uncoded error");
            error.message = "internal server error".to_owned();
            code::INTERNAL_SERVER_ERROR
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
