//! Every error a caller sees carries `extensions.code`: service errors bring theirs (mapped once,
//! in `service::error`), and async-graphql's own errors get one here.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::{
    ErrorExtensionValues, Response, ServerError, ServerResult, ValidationResult, Value,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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

/// Puts every error into the shape the GraphQL spec and our callers expect:
/// - async-graphql's own errors get a code: parse failures, validation failures, and input
///   values that do not fit their type. An error that reaches the caller without a code any
///   other way is a bug: its text is logged and replaced.
/// - A failed field is `null` in `data`, and a `null` in a non-null field makes its nearest
///   nullable parent `null` (or all of `data`), with the error in `errors`. async-graphql 7
///   instead leaves a failed field out of its object, which typed clients read as a malformed
///   answer.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension::default())
    }
}

/// One per request (async-graphql creates extensions per request, batch items included).
#[derive(Default)]
struct ErrorCodesExtension {
    /// Errors of nullable fields that we turned into `null`: async-graphql no longer sees them.
    errors_of_nulled_fields: Mutex<Vec<ServerError>>,
    /// Paths of fields whose value must be discarded because a non-null field inside failed.
    /// The empty path stands for the whole of `data`.
    failed_fields: Mutex<HashSet<Vec<String>>>,
    /// Whether `failed_fields` was ever written: most answers fail nowhere, and then no field
    /// needs the lock (taking it for every field showed up as contention in profiles).
    any_field_failed: AtomicBool,
}

impl ErrorCodesExtension {
    /// Marks the field that encloses `path` as failed: the field itself is gone, and so is any
    /// list item around it (our lists hold non-null items).
    fn fail_enclosing_field(&self, mut path: Vec<String>) {
        path.pop();
        while path
            .last()
            .is_some_and(|segment| segment.parse::<usize>().is_ok())
        {
            path.pop();
        }
        lock(&self.failed_fields).insert(path);
        self.any_field_failed.store(true, Ordering::Release);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is a single push or insert, so a poisoned lock still guards whole data.
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        if self.any_field_failed.load(Ordering::Acquire)
            && lock(&self.failed_fields).contains(&Vec::new())
        {
            response.data = Value::Null;
        }
        response
            .errors
            .extend(lock(&self.errors_of_nulled_fields).drain(..));
        for error in &mut response.errors {
            if !has_code(error) {
                let code = classify_uncoded(error);
                if code == code::INTERNAL_SERVER_ERROR {
                    tracing::error!(message = %error.message, path = ?error.path, "uncoded error");
                    error.message = "internal server error".to_owned();
                }
                set_code(error, code);
            }
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        let path_node = info.path_node;
        let result = next.run(ctx, info).await;
        // This runs for every field of every answer: the path is only spelled out (one
        // allocation per segment) when something failed.
        let child_failed = self.any_field_failed.load(Ordering::Acquire) && {
            let mut failed = lock(&self.failed_fields);
            !failed.is_empty() && failed.remove(&path_node.to_string_vec())
        };
        match result {
            Err(error) if nullable => {
                lock(&self.errors_of_nulled_fields).push(error);
                Ok(Some(Value::Null))
            }
            Err(error) => {
                // async-graphql records the error and drops the field; its parent must go too.
                self.fail_enclosing_field(path_node.to_string_vec());
                Err(error)
            }
            Ok(_) if child_failed && nullable => Ok(Some(Value::Null)),
            Ok(value) => {
                if child_failed {
                    self.fail_enclosing_field(path_node.to_string_vec());
                }
                Ok(value)
            }
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for error in &mut errors {
                let code = if error.message.starts_with("Invalid value for argument") {
                    code::BAD_USER_INPUT
                } else {
                    code::GRAPHQL_VALIDATION_FAILED
                };
                set_code(error, code);
            }
            errors
        })
    }
}

fn has_code(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .is_some_and(|extensions| extensions.get("code").is_some())
}

pub(crate) fn set_code(error: &mut ServerError, code: &str) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set("code", Value::from(code));
}

/// A value that does not fit its argument's type: a literal caught by validation, or a
/// variable or argument caught while resolving.
fn is_input_value_error(message: &str) -> bool {
    message.starts_with("Invalid value for argument")
        || message.starts_with("Failed to parse")
        || message.starts_with("Expected input type")
        || message.starts_with("Variable")
}

fn classify_uncoded(error: &ServerError) -> &'static str {
    if is_input_value_error(&error.message) {
        code::BAD_USER_INPUT
    } else if error.path.is_empty() {
        // Raised before any resolver ran: an unknown operation name, a bad variables object...
        code::BAD_REQUEST
    } else {
        code::INTERNAL_SERVER_ERROR
    }
}
