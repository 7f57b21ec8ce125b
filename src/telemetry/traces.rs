//! Traces over OTLP (OpenTelemetry), on only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a span
//! per HTTP request, GraphQL operation, SQL statement, catalog call and Redis command, and W3C
//! `traceparent` in (continued) and out (to the catalog). Off, spans that exist only for traces
//! are not created at all.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Key, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

/// The tracer, once export is on (statements are reported after the fact, straight to it).
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Flushes and stops the exporter when dropped (at the end of `serve`).
#[must_use]
pub struct TracesGuard(Option<SdkTracerProvider>);

impl Drop for TracesGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            // Bounded: an unreachable collector must not hold up the exit.
            if let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(3)) {
                tracing::warn!(%error, "traces: the last spans could not be exported");
            }
        }
    }
}

/// Whether traces are exported: spans made only for them are skipped otherwise.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// The exporter the standard `OTEL_*` variables describe (endpoint, protocol `http/protobuf`
/// or `http/json`, headers, timeout, `OTEL_SERVICE_NAME`...), or `None` when no endpoint is set.
pub(super) fn start() -> (Option<SdkTracer>, TracesGuard) {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|key| std::env::var_os(key).is_some_and(|value| !value.is_empty()));
    if !configured {
        return (None, TracesGuard(None));
    }
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http();
    // OpenTelemetry's default; the crate picks JSON when both encodings are compiled in.
    if std::env::var_os("OTEL_EXPORTER_OTLP_PROTOCOL").is_none() {
        exporter = exporter.with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
    }
    let exporter = match exporter.build() {
        Ok(exporter) => exporter,
        Err(error) => {
            // Logging is not up yet; the caller logs this once it is.
            eprintln!("favorites-api: traces off, the OTLP exporter cannot be built: {error}");
            return (None, TracesGuard(None));
        }
    };
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::from_static_str("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    let resource = if unnamed {
        Resource::builder()
            .with_service_name(env!("CARGO_PKG_NAME"))
            .build()
    } else {
        detected
    };
    // The batch processor exports from a thread of its own, through a bounded queue: a span
    // that does not fit is dropped, never waited for.
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer(env!("CARGO_PKG_NAME"));
    let _ = TRACER.set(tracer.clone());
    (Some(tracer), TracesGuard(Some(provider)))
}

/// Continues the caller's trace: `span` (not yet entered) gets the incoming `traceparent` as
/// its parent.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The context of the nearest span around the caller that is traced: the current one may be a
/// library's (sea-orm's, when `RUST_LOG` turns its spans on), which traces leave out.
fn traced_parent() -> Option<opentelemetry::Context> {
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let current = dispatch.current_span();
        let span = registry.span(current.id()?)?;
        span.scope().find_map(|span| {
            tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
                .filter(|context| context.span().span_context().is_valid())
        })
    })
}

/// Carries the current trace on to a call we make (`traceparent`).
pub fn propagate(headers: &mut http::HeaderMap) {
    if !enabled() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// A SQL statement, reported once it has run (sea-orm's metric callback: its text with
/// placeholders, never values, its duration and outcome), as a child of the current span.
/// Statements outside any request (start-up, the change feed) are not traced.
pub fn record_statement(sql: &str, elapsed: Duration, failed: bool, system: &'static str) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let Some(parent) = traced_parent() else {
        return;
    };
    let end = SystemTime::now();
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let operation = sql
        .split_whitespace()
        .next()
        .unwrap_or("SQL")
        .to_ascii_uppercase();
    let mut span = tracer
        .span_builder(operation)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.query.text", sql.to_owned()),
        ])
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("the statement failed"));
    }
    span.end_with_timestamp(end);
}
