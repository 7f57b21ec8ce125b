//! What operators see: logs (text or JSON lines on stderr, filtered by `RUST_LOG`), traces
//! (OTLP, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) and Prometheus metrics (`GET /metrics`).

mod catalog_metrics;
mod change_metrics;
mod logs;
mod metrics;
pub mod traces;

pub use catalog_metrics::{CatalogMetrics, UpstreamOutcome};
pub use change_metrics::ChangeFeedMetrics;
pub use metrics::{Metrics, OperationLabel, ResponseCacheMetrics, Snapshot as MetricsSnapshot};

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

pub use crate::config::{DEFAULT_LOG_FILTER, LogFormat};
pub use traces::TracesGuard;

/// Starts logging and, when configured, trace export; keep the guard until exit (dropping it
/// flushes the last spans). `filter` is `RUST_LOG` (tracing's `EnvFilter` syntax); one it
/// cannot read falls back to the default, with a warning.
pub fn init(filter: &str, format: LogFormat) -> TracesGuard {
    let (filter, unreadable) = match EnvFilter::try_new(filter) {
        Ok(filter) => (filter, None),
        Err(error) => (EnvFilter::new(DEFAULT_LOG_FILTER), Some(error)),
    };
    let (tracer, guard) = traces::start();
    let traced = tracer.is_some();
    // Each layer has its own filter: `RUST_LOG` says what is logged, not what is traced (an
    // operator at `warn` still gets whole traces).
    let logs = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            // Colour codes help a terminal and garble a log file.
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(logs::JsonWithTraceIds(
                fmt::format()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .with_filter(filter)
            .boxed(),
    };
    // Our own spans only: never the exporter's HTTP stack (a loop), nor libraries' internals.
    let ours = || Targets::new().with_target(env!("CARGO_CRATE_NAME"), Level::INFO);
    let otel = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(ours())
    });
    // After the OpenTelemetry layer, whose ids it copies; not in an `Option`, which does not
    // pass the dispatch on. Filtered like it (a layer without a filter would make every
    // callsite of every library live, at any level).
    let copy_ids = format == LogFormat::Json && traced;
    let trace_ids =
        logs::TraceIdsLayer::default().with_filter(if copy_ids { ours() } else { Targets::new() });
    // A second call (tests) is harmless: the first subscriber stays.
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(otel)
        .with(trace_ids)
        .try_init();
    if let Some(error) = unreadable {
        tracing::warn!(%error, "RUST_LOG cannot be read; logging at the default level");
    }
    if traced {
        tracing::info!("exporting traces over OTLP");
    }
    guard
}
