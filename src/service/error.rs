//! The one error type of the service, and which code (`domain::ErrorCode`) each of its errors
//! is. Errors of the layers below are mapped here, once; their details go to the log, never to
//! the caller.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AuthError;
use crate::catalog::CatalogError;
use crate::db::RepoError;
use crate::domain::{ErrorCode, InvalidInput};

/// What was asked too often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Failed logins from one address.
    Logins,
    /// Requests of one client (or guest).
    Requests,
    /// Guest sessions started from one address.
    GuestSessions,
    /// Shared lists opened from one address.
    SharedReads,
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
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::BadUserInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::EmailTaken => ErrorCode::EmailTaken,
            Self::ProductNotFound(_) => ErrorCode::ProductNotFound,
            Self::FavoritesLimitReached { .. } => ErrorCode::FavoritesLimitReached,
            Self::UpstreamUnavailable => ErrorCode::UpstreamUnavailable,
            Self::DatabaseUnavailable => ErrorCode::DatabaseUnavailable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal => ErrorCode::InternalServerError,
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
                    Limited::GuestSessions => "guest sessions",
                    Limited::SharedReads => "shared list reads",
                };
                format!(
                    "too many {what}, retry in {} s",
                    retry_after_seconds(*retry_after)
                )
            }
            Self::Internal => "internal server error".to_owned(),
        }
    }

    pub fn client_not_found() -> Self {
        Self::NotFound("client not found")
    }

    /// A guest token whose list went to a client: the storefront should drop it, and use the
    /// shopper's own token from now on.
    pub fn guest_ended() -> Self {
        Self::Unauthenticated(
            "this guest session has ended: its list was merged into a client's; use the client's token",
        )
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
            RepoError::GuestEnded => Self::guest_ended(),
            RepoError::NotInList => Self::NotFound("the list does not hold this product"),
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
