//! Telemetry for every Detour process: JSON logs that carry trace and span ids, OpenTelemetry
//! spans exported over OTLP/HTTP (off when no endpoint is configured), and W3C trace context
//! carried across the bus in plain string headers.
//!
//! Only this crate knows OpenTelemetry and its exporters: the bus hands it header pairs and
//! gets spans back. Building the subscriber ([`Telemetry::build`]) is separate from installing
//! it ([`Telemetry::install`]), and logs go to a sink the caller chooses, so tests stay quiet.
//!
//! # Layout
//! `settings` (the `[telemetry]` section), `pipeline` (tracer provider, subscriber, flush),
//! `json_log` (log line format), `propagation` (traceparent in and out), `messaging` (spans
//! per the OpenTelemetry messaging conventions).

mod json_log;
mod messaging;
mod pipeline;
mod propagation;
mod settings;

pub use messaging::{ConsumeSpan, PublishSpan};
pub use pipeline::{Telemetry, TelemetryError};
pub use propagation::{
    current_trace_headers, current_trace_id, inject_trace_context, set_remote_parent, trace_id_of,
};
pub use settings::{LogFormat, TelemetrySettings};
