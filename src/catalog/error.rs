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
            | Self::FailedEarlierInRequest => false,
        }
    }
}
