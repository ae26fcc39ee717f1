//! One JSON object per log line: time, level, service, target, message, the event's fields,
//! the fields of the spans it happened in, and the W3C trace and span ids, so a log line can be
//! found from a trace and the other way round.
//! [`TraceIdsLayer`] resolves the ids; [`JsonLog`] writes the line.

use std::{fmt, sync::OnceLock};

use opentelemetry::trace::TraceContextExt;

use serde_json::{Map, Value};
use tracing::{Dispatch, Event, Subscriber, dispatcher::WeakDispatch, field::Field};
use tracing_subscriber::{
    Layer,
    fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, format::Writer},
    layer::Context,
    registry::LookupSpan,
};

#[derive(Debug)]
pub(crate) struct JsonLog {
    pub(crate) service: String,
}

impl<S, N> FormatEvent<S, N> for JsonLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut fields = Map::new();
        event.record(&mut FieldsToJson(&mut fields));

        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(message) = fields.remove("message") {
            line.insert("message".into(), message);
        }
        if !fields.is_empty() {
            line.insert("fields".into(), Value::Object(fields));
        }
        if let Some(scope) = ctx.event_scope() {
            let mut span_fields = Map::new();
            let mut innermost = None;
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(formatted) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(map)) =
                        serde_json::from_str::<Value>(formatted.as_str())
                {
                    span_fields.extend(map.into_iter().map(|(key, value)| match value {
                        Value::String(text) => (key, Value::String(truncated(&text))),
                        other => (key, other),
                    }));
                }
                innermost = Some((span.name(), extensions.get::<TraceIds>().cloned()));
            }
            if let Some((name, ids)) = innermost {
                line.insert("span".into(), name.into());
                if let Some(ids) = ids {
                    line.insert("trace_id".into(), ids.trace_id.into());
                    line.insert("span_id".into(), ids.span_id.into());
                }
            }
            if !span_fields.is_empty() {
                line.insert("span_fields".into(), Value::Object(span_fields));
            }
        }
        let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// A span's W3C ids, as the log line shows them.
#[derive(Debug, Clone)]
struct TraceIds {
    trace_id: String,
    span_id: String,
}

/// Puts each span's [`TraceIds`] into its extensions for the formatter. Inside a subscriber
/// callback tracing hands out the no-op dispatcher (its re-entrancy guard), so the ids cannot
/// be looked up from the formatter itself; this layer keeps the real dispatcher from
/// registration instead. It resolves the ids at a span's first logged event, never at its
/// creation: the bus sets a consumer span's remote parent right after creating it, which
/// would fail on a span already started.
#[derive(Debug, Default)]
pub(crate) struct TraceIdsLayer {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S> Layer<S> for TraceIdsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let Some(context) = tracing_opentelemetry::get_otel_context(&span.id(), &dispatch) else {
            return;
        };
        let span_context = context.span().span_context().clone();
        if span_context.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: span_context.trace_id().to_string(),
                span_id: span_context.span_id().to_string(),
            });
        }
    }
}

/// The most of one field a log line holds: a hostile 256 KiB user string or an upstream's
/// whole error page is cut here, with how long it was.
pub(crate) const MAX_FIELD_CHARS: usize = 1024;

/// `text`, or its first [`MAX_FIELD_CHARS`] characters and a note of its length.
pub(crate) fn truncated(text: &str) -> String {
    match text.char_indices().nth(MAX_FIELD_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!(
            "{}… ({} characters in all)",
            &text[..cut],
            text.chars().count()
        ),
    }
}

struct FieldsToJson<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for FieldsToJson<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), truncated(&format!("{value:?}")).into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), truncated(value).into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), truncated(&value.to_string()).into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_fields_are_cut_with_their_length_and_short_ones_kept() {
        assert_eq!(truncated("ada@contoso.com"), "ada@contoso.com");
        let hostile = "é".repeat(262_144);
        let cut = truncated(&hostile);
        assert!(cut.starts_with(&"é".repeat(MAX_FIELD_CHARS)));
        assert!(
            cut.ends_with("… (262144 characters in all)"),
            "{}",
            &cut[cut.len() - 40..]
        );
        assert!(cut.chars().count() < MAX_FIELD_CHARS + 40);
    }
}
