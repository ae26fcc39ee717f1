//! Confirmed publishing with its own connection and reconnect loop.
//!
//! RabbitMQ throttles a publishing connection under memory pressure; a separate connection
//! keeps that from stalling consumers. Concurrent publishes share one confirm channel, so their
//! confirms pipeline instead of going one round trip at a time.

use std::{sync::Arc, time::Instant};

use detour_contracts::{Envelope, Message};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use tokio::sync::Mutex;
use tracing::Instrument;

use crate::{AmqpSettings, BusError, PublishError, connect, headers, topology};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: AmqpSettings,
    connection_name: String,
    link: Mutex<Option<Link>>,
}

#[derive(Debug)]
struct Link {
    connection: Connection,
    channel: Channel,
}

/// A message to publish that is not (or not yet) a typed envelope: raw bodies for tests and
/// tools, and the bus's own retry and dead-letter copies.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub body: &'a [u8],
    pub message_id: &'a str,
    pub message_type: &'a str,
    pub headers: Vec<(String, String)>,
}

/// What went wrong with one try, and whether another try can help.
pub(crate) enum TryError {
    Final(PublishError),
    Transient(String),
}

impl std::fmt::Display for TryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TryError::Final(error) => error.fmt(f),
            TryError::Transient(error) => f.write_str(error),
        }
    }
}

impl Publisher {
    /// A publisher that connects on first use; `connection_name` labels it in the broker.
    pub fn new(settings: AmqpSettings, connection_name: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                connection_name: connection_name.into(),
                link: Mutex::new(None),
            }),
        }
    }

    /// Connects now if not connected: lets a service report readiness honestly.
    pub async fn ensure_connected(&self) -> Result<(), BusError> {
        self.channel().await.map(drop)
    }

    /// Publishes a typed message to its exchange and routing key and waits for the confirm.
    pub async fn publish<M: Message>(&self, envelope: &Envelope<M>) -> Result<(), PublishError> {
        let body = envelope.to_json()?;
        let routing_key = envelope.payload.routing_key();
        let message_id = envelope.message_id.to_string();
        self.publish_outgoing(Outgoing {
            exchange: M::KIND.exchange(),
            routing_key: routing_key.as_str(),
            body: &body,
            message_id: &message_id,
            message_type: M::NAME,
            headers: Vec::new(),
        })
        .await
    }

    /// Publishes under a producer span whose context travels in the message's headers.
    pub async fn publish_outgoing(&self, outgoing: Outgoing<'_>) -> Result<(), PublishError> {
        let span = detour_telemetry::PublishSpan::start(
            outgoing.exchange,
            outgoing.routing_key,
            outgoing.message_id,
            outgoing.message_type,
        );
        let mut table = FieldTable::default();
        headers::put_trace_context(&mut table, &detour_telemetry::inject_trace_context(&span));
        for (key, value) in &outgoing.headers {
            headers::put_str(&mut table, key, value);
        }
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_content_type("application/json".into())
            .with_message_id(outgoing.message_id.into())
            .with_type(outgoing.message_type.into())
            .with_headers(table);
        let result = self
            .publish_confirmed(
                outgoing.exchange,
                outgoing.routing_key,
                outgoing.body,
                properties,
            )
            .instrument(span.clone())
            .await;
        if let Err(error) = &result {
            span.record("otel.status_code", "error");
            span.record("error.type", error_type(error));
        }
        metrics::counter!("detour_bus_published_total",
            "exchange" => outgoing.exchange.to_owned(),
            "outcome" => if result.is_ok() { "confirmed" } else { "failed" })
        .increment(1);
        result
    }

    /// Publishes with the properties given, retrying through reconnects until a confirm or
    /// the publish timeout.
    pub(crate) async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let settings = &self.inner.settings;
        let deadline = Instant::now() + settings.publish_timeout();
        let mut backoff = connect::reconnect_backoff(settings);
        loop {
            let outcome = match self.channel().await {
                Ok(channel) => {
                    try_publish(&channel, exchange, routing_key, body, properties.clone()).await
                }
                Err(error) => Err(TryError::Transient(error.to_string())),
            };
            let last_error = match outcome {
                Ok(()) => return Ok(()),
                Err(TryError::Final(error)) => return Err(error),
                Err(TryError::Transient(error)) => error,
            };
            let delay = backoff.next_delay();
            if Instant::now() + delay >= deadline {
                return Err(PublishError::Unavailable {
                    exchange: exchange.to_owned(),
                    routing_key: routing_key.to_owned(),
                    timeout: settings.publish_timeout(),
                    last_error,
                });
            }
            tracing::warn!(exchange, routing_key, error = %last_error, "publish not confirmed; re-sending after reconnect");
            tokio::time::sleep(delay).await;
        }
    }

    /// The current confirm channel, reconnecting first if the link is gone.
    async fn channel(&self) -> Result<Channel, BusError> {
        let mut link = self.inner.link.lock().await;
        if let Some(current) = link.as_ref()
            && current.channel.status().connected()
        {
            return Ok(current.channel.clone());
        }
        if let Some(stale) = link.take() {
            metrics::counter!("detour_bus_reconnects_total", "role" => "publisher").increment(1);
            // A dead connection answers at once; a half-dead one is not worth waiting for.
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(1),
                stale.connection.close(200, "reconnecting".into()),
            )
            .await;
        }
        let connection = connect::open(&self.inner.settings, &self.inner.connection_name).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(BusError::Declare)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(BusError::Declare)?;
        topology::declare_exchanges(&channel)
            .await
            .map_err(BusError::Declare)?;
        *link = Some(Link {
            connection,
            channel: channel.clone(),
        });
        Ok(channel)
    }

    /// Closes the connection; publishes after this reconnect.
    pub async fn close(&self) {
        if let Some(link) = self.inner.link.lock().await.take() {
            let _ = link.connection.close(200, "shutting down".into()).await;
        }
    }
}

/// One mandatory publish and its confirm, classified.
pub(crate) async fn try_publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), TryError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties,
        )
        .await
        .map_err(|e| classify(e, exchange, routing_key))?;
    match confirm
        .await
        .map_err(|e| classify(e, exchange, routing_key))?
    {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(TryError::Final(PublishError::Unroutable {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            reply: format!("{} {}", returned.reply_code, returned.reply_text.as_str()),
        })),
        Confirmation::Nack(_) => Err(TryError::Final(PublishError::Nacked {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        })),
        Confirmation::NotRequested => {
            Err(TryError::Transient("channel is not in confirm mode".into()))
        }
    }
}

/// A channel-level refusal (no such exchange, access refused) will not change on a retry; a
/// lost connection or a closed channel will.
fn classify(error: lapin::Error, exchange: &str, routing_key: &str) -> TryError {
    if error.is_amqp_soft_error() {
        TryError::Final(PublishError::Refused {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            reason: error.to_string(),
        })
    } else {
        TryError::Transient(error.to_string())
    }
}

fn error_type(error: &PublishError) -> &'static str {
    match error {
        PublishError::Unroutable { .. } => "unroutable",
        PublishError::Nacked { .. } => "nacked",
        PublishError::Refused { .. } => "refused",
        PublishError::Unavailable { .. } => "unavailable",
        PublishError::Encode(_) => "encode",
    }
}
