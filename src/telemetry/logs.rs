//! Log lines on stderr: human-readable text (the default), or one JSON object a line
//! (`LOG_FORMAT=json`) with the time, level, message, target and, when traces are on, the
//! trace and span ids of the span the line was written in.

use std::sync::OnceLock;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::dispatcher::WeakDispatch;
use tracing::{Event, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// A span's place in its trace, kept in the span's extensions for the JSON lines.
#[derive(Clone, Copy)]
struct TraceIds {
    trace_id: TraceId,
    span_id: SpanId,
}

/// Copies each span's trace and span ids into its extensions when it is first entered (the
/// OpenTelemetry span exists from then on; its own data is private to that layer).
#[derive(Default)]
pub struct TraceIdsLayer {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TraceIdsLayer {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_enter(&self, id: &span::Id, context: Context<'_, S>) {
        let Some(span) = context.span(id) else {
            return;
        };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(otel) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        let otel_span = otel.span();
        let ids = otel_span.span_context();
        if ids.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: ids.trace_id(),
                span_id: ids.span_id(),
            });
        }
    }
}

/// tracing-subscriber's JSON line, with `trace_id` and `span_id` (hex) of the nearest traced
/// span around the event.
pub struct JsonWithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for JsonWithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let ids = context.event_scope().and_then(|mut scope| {
            scope.find_map(|span| span.extensions().get::<TraceIds>().copied())
        });
        let Some(ids) = ids else {
            return self.0.format_event(context, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0
            .format_event(context, Writer::new(&mut line), event)?;
        match line.trim_end().strip_suffix('}') {
            Some(object) => writeln!(
                writer,
                r#"{object},"trace_id":"{}","span_id":"{}"}}"#,
                ids.trace_id, ids.span_id
            ),
            None => writer.write_str(&line),
        }
    }
}
