//! Why the catalog could not answer (every kind means "upstream unavailable" to a caller; the
//! detail is for the logs), and why it could not be built.

use std::sync::Arc;

/// Why the catalog could not answer. Every variant means "upstream unavailable" to a caller; the
/// detail is for the logs. Cheap to clone, so one failed call can answer all its waiters.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog request failed: {0}")]
    Transport(#[source] Arc<reqwest::Error>),
    #[error("catalog did not answer within the time allowed")]
    Timeout,
    #[error("catalog answered HTTP {0}")]
    Status(u16),
    #[error("catalog answered a body that is not what was asked for: {0}")]
    InvalidBody(String),
    #[error("catalog circuit is open after repeated failures")]
    CircuitOpen,
    #[error("catalog not asked: an earlier call of this request failed")]
    FailedEarlierInRequest,
    #[error("catalog not asked: another instance's call for the same data just failed")]
    FailedOnAnotherInstance,
}

/// Why a `Catalog` could not be built (at start-up).
#[derive(Debug, thiserror::Error)]
pub enum CatalogBuildError {
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    // redis-rs does not repeat the URL (which may hold a password) in its errors.
    #[error("REDIS_URL cannot be used: {0}")]
    RedisUrl(#[source] redis::RedisError),
}

impl CatalogError {
    pub(crate) fn transport(error: reqwest::Error) -> Self {
        Self::Transport(Arc::new(error))
    }

    /// Worth one retry: the next attempt may well succeed.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status(status) => *status >= 500 || *status == 429,
            Self::Timeout
            | Self::InvalidBody(_)
            | Self::CircuitOpen
            | Self::FailedEarlierInRequest
            | Self::FailedOnAnotherInstance => false,
        }
    }

    /// Whether the upstream was actually called (and failed), rather than spared the call.
    pub(crate) fn reached_upstream(&self) -> bool {
        !matches!(
            self,
            Self::CircuitOpen | Self::FailedEarlierInRequest | Self::FailedOnAnotherInstance
        )
    }
}
