//! AMQP header names Detour uses and conversions between lapin's field tables and strings.

use std::collections::HashMap;

use lapin::types::{AMQPValue, FieldTable, LongString};

/// Which attempt this delivery is, 1 for the first.
pub const ATTEMPT_HEADER: &str = "x-detour-attempt";
/// The exchange and routing key a message was first published to (a retry travels through a
/// delay queue and the default exchange, which would hide them).
pub const ORIGINAL_EXCHANGE_HEADER: &str = "x-detour-exchange";
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-detour-routing-key";
/// On a dead letter: why it died (`retries-exhausted`, `rejected` or `expired`), the handler's error,
/// and when.
pub const ERROR_KIND_HEADER: &str = "x-detour-error-kind";
pub const ERROR_HEADER: &str = "x-detour-error";
pub const FAILED_AT_HEADER: &str = "x-detour-failed-at";

const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

pub(crate) fn get_str(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

pub(crate) fn get_u32(table: &FieldTable, key: &str) -> Option<u32> {
    match table.inner().get(key)? {
        AMQPValue::LongUInt(n) => Some(*n),
        AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u32::from(*n)),
        AMQPValue::ShortInt(n) => u32::try_from(*n).ok(),
        AMQPValue::ShortShortUInt(n) => Some(u32::from(*n)),
        AMQPValue::ShortShortInt(n) => u32::try_from(*n).ok(),
        _ => None,
    }
}

pub(crate) fn put_str(table: &mut FieldTable, key: &str, value: &str) {
    table.insert(
        key.into(),
        AMQPValue::LongString(LongString::from(value.as_bytes().to_vec())),
    );
}

pub(crate) fn put_u32(table: &mut FieldTable, key: &str, value: u32) {
    table.insert(key.into(), AMQPValue::LongUInt(value));
}

pub(crate) fn trace_context(table: &FieldTable) -> HashMap<String, String> {
    TRACE_HEADERS
        .iter()
        .filter_map(|key| get_str(table, key).map(|value| ((*key).to_owned(), value)))
        .collect()
}

pub(crate) fn put_trace_context(table: &mut FieldTable, context: &HashMap<String, String>) {
    for (key, value) in context {
        put_str(table, key, value);
    }
}
