//! What operators see: logs (human-readable lines on stderr, filtered by `RUST_LOG`, default
//! `info`) and Prometheus metrics (`GET /metrics`).

mod metrics;

pub use metrics::{CatalogMetrics, Metrics, Snapshot as MetricsSnapshot, UpstreamOutcome};

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,tower_http=info"));
    // A second call (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes help a terminal and garble a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
