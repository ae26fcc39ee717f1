//! Detour's RabbitMQ bus on lapin: topology, confirmed publishing, the consume loop with
//! retry and dead-lettering, and reconnection.
//!
//! - [`Publisher`]: persistent, mandatory publishes whose broker confirm is awaited; an
//!   unroutable or nacked message is an error to the caller. A publish whose connection drops
//!   before its confirm is re-sent after reconnecting, so it may arrive twice, never zero times.
//! - [`Consumer`]: manual acks, bounded prefetch and concurrency. A handler returns an
//!   [`Outcome`]: `Handled` acks; `Retry` goes through delay queues with growing TTLs and, past
//!   the attempt limit, to the queue's dead-letter queue; `Reject` dead-letters at once. Error
//!   details ride in `x-detour-*` headers. The ack follows the confirmed retry or dead-letter
//!   publish, so a crash in between redelivers instead of losing.
//! - Both own their reconnect loop (lapin's auto-recovery has an open bug, lapin#450):
//!   backoff with jitter, redeclare, resume.
//! - Trace context rides in `traceparent`/`tracestate` headers (via `detour-telemetry`).
//!
//! # Layout
//! `settings` (the `[amqp]` section), `topology` (exchanges and queues), `connect` (connection
//! and backoff), `headers` (AMQP header names and conversions), `publisher`, `consumer`,
//! `incoming` (what a handler sees), `subscription` (temporary listeners for tools), `error`.

mod connect;
mod consumer;
mod error;
mod headers;
mod incoming;
mod publisher;
mod settings;
mod subscription;
mod topology;

pub use consumer::{Consumer, Outcome};
pub use error::{BusError, PublishError};
pub use headers::{
    ATTEMPT_HEADER, ERROR_HEADER, ERROR_KIND_HEADER, FAILED_AT_HEADER, ORIGINAL_EXCHANGE_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
};
pub use incoming::Incoming;
pub use publisher::{Outgoing, Publisher};
pub use settings::AmqpSettings;
pub use subscription::Subscription;
pub use topology::{Binding, DEAD_LETTER_EXCHANGE, QueueSpec};
