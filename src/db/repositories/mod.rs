//! Every SQL statement of the service lives here, behind plain functions that take a connection
//! and return entities or a `RepoError`. Nothing here knows about GraphQL or HTTP.

pub mod change_log;
pub mod clients;
pub mod favorites;
pub mod guest_merge;
pub mod guests;
pub mod popularity;
pub mod shares;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};

use super::RepoError;

/// Both databases keep timestamps to the microsecond; rounding here makes what we return on
/// insert equal to what we read back later.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

const MAX_ATTEMPTS: u32 = 5;

/// Runs a transaction again when PostgreSQL aborted it to break a deadlock or a serialization
/// conflict, so that concurrent callers see success rather than a 500.
pub(crate) async fn with_retry<T, F, Fut>(mut transaction: F) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RepoError>>,
{
    let mut attempt = 1;
    loop {
        match transaction().await {
            Err(error) if error.is_retryable() && attempt < MAX_ATTEMPTS => {
                tracing::debug!(attempt, error = %error, "retrying transaction");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}
