//! The one error type of the service and the codes callers see in `extensions.code` (and the
//! REST door's `code`). Errors of the layers below are mapped here, once; their details go to
//! the log, never to the caller.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AuthError;
use crate::catalog::CatalogError;
use crate::db::RepoError;
use crate::domain::InvalidInput;

/// The codes a caller can find in `extensions.code`.
pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const EMAIL_TAKEN: &str = "EMAIL_TAKEN";
    pub const PRODUCT_NOT_FOUND: &str = "PRODUCT_NOT_FOUND";
    pub const FAVORITES_LIMIT_REACHED: &str = "FAVORITES_LIMIT_REACHED";
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
    /// `Accept` names neither `application/graphql-response+json` nor `application/json`.
    pub const NOT_ACCEPTABLE: &str = "NOT_ACCEPTABLE";
    /// The server has as much work as it takes; retry shortly (HTTP 503 with `Retry-After`).
    pub const OVERLOADED: &str = "OVERLOADED";
}

/// What was asked too often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Failed logins from one address.
    Logins,
    /// Requests of one client.
    Requests,
}

/// What a caller is told. Deliberately not `Display`: async-graphql turns any `Display` error
/// into an uncoded message through `?`, so only the conversions of the GraphQL layer (which
/// always set the code) can make one of its errors out of this.
#[derive(Debug)]
pub enum ServiceError {
    Unauthenticated(&'static str),
    /// The caller is known but may not do this. Says nothing about whether the target exists.
    Forbidden,
    BadUserInput(String),
    NotFound(&'static str),
    EmailTaken,
    ProductNotFound(i32),
    FavoritesLimitReached {
        limit: u32,
    },
    UpstreamUnavailable,
    DatabaseUnavailable,
    RateLimited {
        retry_after: Duration,
        what: Limited,
    },
    Internal,
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden => code::FORBIDDEN,
            Self::BadUserInput(_) => code::BAD_USER_INPUT,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::EmailTaken => code::EMAIL_TAKEN,
            Self::ProductNotFound(_) => code::PRODUCT_NOT_FOUND,
            Self::FavoritesLimitReached { .. } => code::FAVORITES_LIMIT_REACHED,
            Self::UpstreamUnavailable => code::UPSTREAM_UNAVAILABLE,
            Self::DatabaseUnavailable => code::DATABASE_UNAVAILABLE,
            Self::RateLimited { .. } => code::RATE_LIMITED,
            Self::Internal => code::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(message) | Self::NotFound(message) => (*message).to_owned(),
            Self::Forbidden => "this token may not do that".to_owned(),
            Self::BadUserInput(message) => message.clone(),
            Self::EmailTaken => "a client with this e-mail address already exists".to_owned(),
            Self::ProductNotFound(id) => format!("product {id} does not exist in the catalog"),
            Self::FavoritesLimitReached { limit } => {
                format!("a list holds at most {limit} products; remove one first")
            }
            Self::UpstreamUnavailable => {
                "the product catalog is unavailable, try again later".to_owned()
            }
            Self::DatabaseUnavailable => "the database is unavailable, try again later".to_owned(),
            Self::RateLimited { retry_after, what } => {
                let what = match what {
                    Limited::Logins => "failed logins",
                    Limited::Requests => "requests",
                };
                format!(
                    "too many {what}, retry in {} s",
                    retry_after_seconds(*retry_after)
                )
            }
            Self::Internal => "internal server error".to_owned(),
        }
    }

    /// Extra entries for `extensions`, besides `code`.
    pub fn details(&self) -> Option<(&'static str, i64)> {
        match self {
            Self::ProductNotFound(id) => Some(("productId", i64::from(*id))),
            Self::FavoritesLimitReached { limit } => Some(("limit", i64::from(*limit))),
            Self::RateLimited { retry_after, .. } => Some((
                "retryAfterSeconds",
                i64::try_from(retry_after_seconds(*retry_after)).unwrap_or(i64::MAX),
            )),
            _ => None,
        }
    }

    pub fn client_not_found() -> Self {
        Self::NotFound("client not found")
    }
}

/// Whole seconds, rounded up: "retry in 0 s" would invite an immediate retry that fails.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl From<&RepoError> for ServiceError {
    fn from(error: &RepoError) -> Self {
        match error {
            RepoError::ClientNotFound => Self::client_not_found(),
            RepoError::EmailTaken => Self::EmailTaken,
            RepoError::ListFull { limit } => Self::FavoritesLimitReached { limit: *limit },
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

impl From<RepoError> for ServiceError {
    fn from(error: RepoError) -> Self {
        Self::from(&error)
    }
}

/// Batch loads share one error among every key of a batch, hence the `Arc`.
impl From<Arc<RepoError>> for ServiceError {
    fn from(error: Arc<RepoError>) -> Self {
        Self::from(error.as_ref())
    }
}

impl From<&CatalogError> for ServiceError {
    fn from(error: &CatalogError) -> Self {
        tracing::warn!(error = %error, "catalog unavailable");
        Self::UpstreamUnavailable
    }
}

impl From<CatalogError> for ServiceError {
    fn from(error: CatalogError) -> Self {
        Self::from(&error)
    }
}

impl From<InvalidInput> for ServiceError {
    fn from(error: InvalidInput) -> Self {
        Self::BadUserInput(error.to_string())
    }
}

impl From<AuthError> for ServiceError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidCredentials => Self::Unauthenticated("invalid username or password"),
            AuthError::InvalidToken(why) => {
                tracing::debug!(%why, "token refused");
                Self::Unauthenticated("invalid or expired token")
            }
            AuthError::RateLimited { retry_after } => Self::RateLimited {
                retry_after,
                what: Limited::Logins,
            },
            AuthError::Signing(_) | AuthError::Hashing(_) | AuthError::Lifetime => {
                tracing::error!(error = %error, "authentication failed internally");
                Self::Internal
            }
        }
    }
}
