//! Spans for messages, named and tagged per the OpenTelemetry messaging conventions for
//! RabbitMQ: `messaging.system=rabbitmq`, destination `exchange:routing_key`, operation, plus
//! Detour's own `detour.*` attributes, which handlers fill in as they learn them.

use tracing::{Span, field::Empty};

/// A producer span around one confirmed publish.
#[derive(Debug)]
pub struct PublishSpan;

impl PublishSpan {
    pub fn start(exchange: &str, routing_key: &str, message_id: &str, message_type: &str) -> Span {
        let destination = format!("{exchange}:{routing_key}");
        tracing::info_span!(
            target: "detour::messaging",
            "publish",
            "otel.name" = format!("publish {destination}"),
            "otel.kind" = "producer",
            "otel.status_code" = Empty,
            "error.type" = Empty,
            "messaging.system" = "rabbitmq",
            "messaging.operation.type" = "send",
            "messaging.operation.name" = "publish",
            "messaging.destination.name" = destination,
            "messaging.rabbitmq.destination.routing_key" = routing_key,
            "messaging.message.id" = message_id,
            "detour.message_type" = message_type,
        )
    }
}

/// A consumer span around the handling of one delivery.
#[derive(Debug)]
pub struct ConsumeSpan;

impl ConsumeSpan {
    pub fn start(
        exchange: &str,
        routing_key: &str,
        queue: &str,
        message_id: &str,
        attempt: u32,
    ) -> Span {
        let destination = format!("{exchange}:{routing_key}");
        tracing::info_span!(
            target: "detour::messaging",
            "process",
            "otel.name" = format!("process {destination}"),
            "otel.kind" = "consumer",
            "otel.status_code" = Empty,
            "error.type" = Empty,
            "messaging.system" = "rabbitmq",
            "messaging.operation.type" = "process",
            "messaging.operation.name" = "process",
            "messaging.destination.name" = destination,
            "messaging.rabbitmq.destination.routing_key" = routing_key,
            "messaging.consumer.group.name" = queue,
            "messaging.message.id" = message_id,
            "detour.message_type" = Empty,
            "detour.attempt" = attempt,
            "detour.saga_id" = Empty,
            "detour.ticket" = Empty,
            "detour.step" = Empty,
            "detour.outcome" = Empty,
        )
    }
}
