//! What operators see: logs (human-readable lines on stderr, filtered by `RUST_LOG`) and
//! Prometheus metrics (`GET /metrics`).

mod metrics;

pub use metrics::{
    CatalogMetrics, Metrics, OperationLabel, ResponseCacheMetrics, Snapshot as MetricsSnapshot,
    UpstreamOutcome,
};

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub use crate::config::DEFAULT_LOG_FILTER;

/// `filter` is `RUST_LOG` (tracing's `EnvFilter` syntax); one it cannot read falls back to the
/// default, with a warning.
pub fn init(filter: &str) {
    let (filter, unreadable) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new(DEFAULT_LOG_FILTER), Some(error)),
    };
    // A second call (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes help a terminal and garble a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if let Some(error) = unreadable {
        tracing::warn!(%error, "RUST_LOG cannot be read; logging at the default level");
    }
}
