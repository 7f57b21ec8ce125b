//! The one error type of the API and its codes. Every error a caller sees carries
//! `extensions.code`; errors from the layers below are mapped here, once, and their details
//! go to the log instead of the response.

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{
    ErrorExtensionValues, Request, Response, ServerError, ServerResult, ValidationResult, Value,
    Variables,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::document_guard;
use crate::auth::AuthError;
use crate::catalog::CatalogError;
use crate::db::RepoError;
use crate::domain::InvalidInput;

/// The codes a caller can find in `extensions.code`.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    pub const PRODUCT_NOT_FOUND: &str = "PRODUCT_NOT_FOUND";
    pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
    pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
    pub const GRAPHQL_PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
    // Refusals made by the HTTP layer, before GraphQL runs.
    pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const BODY_TIMEOUT: &str = "BODY_TIMEOUT";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
}

/// What a caller is told. Deliberately not `Display`: async-graphql turns any `Display` error
/// into an uncoded message through `?`, so only the conversion below can make an
/// `async_graphql::Error` out of it, and that conversion always sets the code.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated(&'static str),
    BadUserInput(String),
    NotFound(String),
    EmailTaken,
    ProductNotFound(i32),
    UpstreamUnavailable,
    DatabaseUnavailable,
    RateLimited { retry_after_seconds: u64 },
    Internal,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::BadUserInput(_) => code::BAD_USER_INPUT,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::EmailTaken => code::EMAIL_TAKEN,
            Self::ProductNotFound(_) => code::PRODUCT_NOT_FOUND,
            Self::UpstreamUnavailable => code::UPSTREAM_UNAVAILABLE,
            Self::DatabaseUnavailable => code::DATABASE_UNAVAILABLE,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Internal => code::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(message) => (*message).to_owned(),
            Self::BadUserInput(message) | Self::NotFound(message) => message.clone(),
            Self::EmailTaken => "a client with this e-mail address already exists".to_owned(),
            Self::ProductNotFound(id) => format!("product {id} does not exist in the catalog"),
            Self::UpstreamUnavailable => {
                "the product catalog is unavailable, try again later".to_owned()
            }
            Self::DatabaseUnavailable => "the database is unavailable, try again later".to_owned(),
            Self::RateLimited {
                retry_after_seconds,
            } => format!("too many failed logins, retry in {retry_after_seconds} s"),
            Self::Internal => "internal server error".to_owned(),
        }
    }

    pub fn client_not_found() -> Self {
        Self::NotFound("client not found".to_owned())
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", error.code());
        match error {
            ApiError::ProductNotFound(id) => extensions.set("productId", id),
            ApiError::RateLimited {
                retry_after_seconds,
            } => extensions.set("retryAfterSeconds", retry_after_seconds),
            _ => {}
        }
        async_graphql::Error {
            message: error.message(),
            source: None,
            extensions: Some(extensions),
        }
    }
}

impl From<&RepoError> for ApiError {
    fn from(error: &RepoError) -> Self {
        match error {
            RepoError::ClientNotFound => Self::client_not_found(),
            RepoError::EmailTaken => Self::EmailTaken,
            RepoError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable");
                Self::DatabaseUnavailable
            }
            RepoError::Internal(source) => {
                tracing::error!(error = %source, "database error");
                Self::Internal
            }
        }
    }
}

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> Self {
        Self::from(&error)
    }
}

/// DataLoaders share one error among every key of a batch, hence the `Arc`.
impl From<Arc<RepoError>> for ApiError {
    fn from(error: Arc<RepoError>) -> Self {
        Self::from(error.as_ref())
    }
}

impl From<&CatalogError> for ApiError {
    fn from(error: &CatalogError) -> Self {
        tracing::warn!(error = %error, "catalog unavailable");
        Self::UpstreamUnavailable
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        Self::from(&error)
    }
}

impl From<InvalidInput> for ApiError {
    fn from(error: InvalidInput) -> Self {
        Self::BadUserInput(error.to_string())
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidCredentials => Self::Unauthenticated("invalid username or password"),
            AuthError::InvalidToken(_) => Self::Unauthenticated("invalid or expired token"),
            AuthError::RateLimited { retry_after } => Self::RateLimited {
                retry_after_seconds: retry_after_seconds(retry_after),
            },
            AuthError::Signing(_) | AuthError::Hashing(_) | AuthError::Lifetime => {
                tracing::error!(error = %error, "authentication failed internally");
                Self::Internal
            }
        }
    }
}

/// Whole seconds, rounded up: "retry in 0 s" would invite an immediate retry that fails.
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Puts every error into the shape the GraphQL spec and our callers expect:
/// - async-graphql's own errors get a code: parse failures, validation failures, and input
///   values that do not fit their type. An error that reaches the caller without a code any
///   other way is a bug: its text is logged and replaced.
/// - A failed field is `null` in `data`, and a `null` in a non-null field makes its nearest
///   nullable parent `null` (or all of `data`), with the error in `errors`. async-graphql 7
///   instead leaves a failed field out of its object, which typed clients read as a malformed
///   answer.
pub struct ErrorCodes {
    /// With introspection off, a document that asks for it is refused with a code, rather
    /// than answered with a silent null.
    pub introspection: bool,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension {
            introspection: self.introspection,
            ..ErrorCodesExtension::default()
        })
    }
}

/// One per request (async-graphql creates extensions per request, batch items included).
#[derive(Default)]
struct ErrorCodesExtension {
    introspection: bool,
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
    /// The checks async-graphql lacks, on a document that is not parsed yet. Returns the parsed
    /// document when it passes, and `None` when it does not parse: async-graphql's own parse
    /// then reports where.
    fn guard(&self, query: &str) -> ServerResult<Option<ExecutableDocument>> {
        let refuse = |code: &str, message: String| {
            let mut error = ServerError::new(message, None);
            set_code(&mut error, code);
            Err(error)
        };
        // Before the parser sees it: the parser recurses once per level.
        if document_guard::nesting_depth(query, document_guard::MAX_NESTING)
            > document_guard::MAX_NESTING
        {
            return refuse(
                code::GRAPHQL_PARSE_FAILED,
                format!(
                    "the document nests deeper than {} levels",
                    document_guard::MAX_NESTING
                ),
            );
        }
        let Ok(document) = async_graphql::parser::parse_query(query) else {
            return Ok(None);
        };
        // Measured before async-graphql's checks: its recursion check walks every fragment
        // spread in full, which is exponential for a fragment that doubles at each level (and
        // synchronous, so no timeout can stop it).
        let size = document_guard::expansion(&document);
        if size.fields > document_guard::MAX_EXPANDED_FIELDS {
            return refuse(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "the document expands to more than {} fields",
                    document_guard::MAX_EXPANDED_FIELDS
                ),
            );
        }
        if size.introspection_fields > 0 && !self.introspection {
            return refuse(
                code::GRAPHQL_VALIDATION_FAILED,
                "introspection is disabled on this server".to_owned(),
            );
        }
        if size.introspection_fields > document_guard::MAX_INTROSPECTION_FIELDS {
            return refuse(
                code::GRAPHQL_VALIDATION_FAILED,
                format!(
                    "a document may hold at most {} introspection fields",
                    document_guard::MAX_INTROSPECTION_FIELDS
                ),
            );
        }
        Ok(Some(document))
    }

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

    /// The document guard runs here, after the other extensions had their turn (persisted
    /// queries fill in the text), on our own parse; the document it checked is handed on, so
    /// async-graphql does not parse it a second time.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let mut request = next.run(ctx, request).await?;
        if let Some(document) = self.guard(&request.query)? {
            request.set_parsed_query(document);
        }
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut error| {
            if !has_code(&error) {
                set_code(&mut error, code::GRAPHQL_PARSE_FAILED);
            }
            error
        })
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
