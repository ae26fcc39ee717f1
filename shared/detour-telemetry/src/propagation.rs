//! W3C trace context (`traceparent`, `tracestate`) in and out of plain string headers, so the
//! bus can carry it in AMQP headers without knowing OpenTelemetry.

use std::collections::HashMap;

use opentelemetry::{propagation::TextMapPropagator, trace::TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The trace-context headers that make `span` the parent of whatever receives them.
pub fn inject_trace_context(span: &Span) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    headers
}

/// The current span's trace-context headers, for an outgoing HTTP request: the server's spans
/// then join the caller's trace.
pub fn current_trace_headers() -> HashMap<String, String> {
    inject_trace_context(&Span::current())
}

/// Makes the span described by `headers` the parent of `span`, which must not have been
/// entered yet. Headers without a valid `traceparent` leave `span` a root.
pub fn set_remote_parent(span: &Span, headers: &HashMap<String, String>) {
    let parent = TraceContextPropagator::new().extract(headers);
    if parent.span().span_context().is_valid() {
        // Fails only when the span has already started, which callers rule out.
        let _ = span.set_parent(parent);
    }
}

/// The span's W3C trace id (32 hex digits), if tracing is installed and the span is recorded.
pub fn trace_id_of(span: &Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

pub fn current_trace_id() -> Option<String> {
    trace_id_of(&Span::current())
}
