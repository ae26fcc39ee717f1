//! The consume loop: connect, declare, consume with bounded prefetch and concurrency, settle
//! each delivery by its handler's [`Outcome`], and start over after a lost connection.

use std::{future::Future, panic::AssertUnwindSafe, time::Duration};

use futures_util::{FutureExt, StreamExt, future};
use lapin::{
    Channel, Connection,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
        ConfirmSelectOptions,
    },
    types::FieldTable,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    AmqpSettings, BusError, Incoming, QueueSpec, connect,
    headers::{
        self, ATTEMPT_HEADER, ERROR_HEADER, ERROR_KIND_HEADER, FAILED_AT_HEADER,
        ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER,
    },
    publisher,
    topology::{self, DEAD_LETTER_EXCHANGE},
};

/// What a handler made of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or already done before): ack.
    Handled,
    /// A transient failure (timeout, 429, 5xx, busy): try again later.
    Retry(String),
    /// A permanent failure (bad input, not found, no permission): dead-letter now.
    Reject(String),
    /// Delivered after its sender stopped waiting for it: dead-letter as expired, unread.
    Expired(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Retry(_) => "retry",
            Outcome::Reject(_) => "reject",
            Outcome::Expired(_) => "expired",
        }
    }
}

#[derive(Debug)]
pub struct Consumer {
    settings: AmqpSettings,
    queue: QueueSpec,
    connection_name: String,
    ready: watch::Sender<bool>,
}

impl Consumer {
    pub fn new(
        settings: AmqpSettings,
        queue: QueueSpec,
        connection_name: impl Into<String>,
    ) -> Self {
        Self {
            settings,
            queue,
            connection_name: connection_name.into(),
            ready: watch::Sender::new(false),
        }
    }

    pub fn queue(&self) -> &QueueSpec {
        &self.queue
    }

    /// `true` while connected and consuming.
    pub fn readiness(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Declares the exchanges and this queue's topology once, without consuming, so messages
    /// published before the consumer first runs are kept.
    pub async fn declare(&self) -> Result<(), BusError> {
        let connection = connect::open(&self.settings, &self.connection_name).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(BusError::Declare)?;
        topology::declare_all(&channel, &self.queue, &self.settings).await?;
        let _ = connection.close(200, "declared".into()).await;
        Ok(())
    }

    /// Consumes until `shutdown`, reconnecting after every loss. On shutdown it takes no new
    /// deliveries, lets the ones in hand finish, and leaves the rest to the broker.
    pub async fn run<H, F>(&self, handler: H, shutdown: CancellationToken)
    where
        H: Fn(Incoming) -> F + Sync,
        F: Future<Output = Outcome> + Send,
    {
        let mut backoff = connect::reconnect_backoff(&self.settings);
        while !shutdown.is_cancelled() {
            match self.session(&handler, &shutdown, &mut backoff).await {
                Ok(()) if shutdown.is_cancelled() => break,
                Ok(()) => {
                    tracing::warn!(queue = %self.queue.name, "lost the broker connection; reconnecting")
                }
                Err(error) => {
                    tracing::warn!(queue = %self.queue.name, %error, "cannot consume; retrying")
                }
            }
            self.ready.send_replace(false);
            metrics::counter!("detour_bus_reconnects_total", "role" => "consumer").increment(1);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
        self.ready.send_replace(false);
    }

    async fn session<H, F>(
        &self,
        handler: &H,
        shutdown: &CancellationToken,
        backoff: &mut detour_retry::Backoff,
    ) -> Result<(), BusError>
    where
        H: Fn(Incoming) -> F + Sync,
        F: Future<Output = Outcome> + Send,
    {
        let connection = connect::open(&self.settings, &self.connection_name).await?;
        let result = self
            .consume_on(&connection, handler, shutdown, backoff)
            .await;
        self.ready.send_replace(false);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            connection.close(200, "consumer stopping".into()),
        )
        .await;
        result
    }

    async fn consume_on<H, F>(
        &self,
        connection: &Connection,
        handler: &H,
        shutdown: &CancellationToken,
        backoff: &mut detour_retry::Backoff,
    ) -> Result<(), BusError>
    where
        H: Fn(Incoming) -> F + Sync,
        F: Future<Output = Outcome> + Send,
    {
        let channel = connection
            .create_channel()
            .await
            .map_err(BusError::Declare)?;
        // Retry and dead-letter copies go out on their own confirm channel; the original is
        // acked on the consuming channel only after its copy is confirmed.
        let side = connection
            .create_channel()
            .await
            .map_err(BusError::Declare)?;
        side.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(BusError::Declare)?;
        topology::declare_all(&channel, &self.queue, &self.settings).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(BusError::Declare)?;
        let consumer = channel
            .basic_consume(
                self.queue.name.as_str().into(),
                self.connection_name.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|source| BusError::Consume {
                queue: self.queue.name.clone(),
                source,
            })?;
        self.ready.send_replace(true);
        backoff.reset();
        tracing::info!(queue = %self.queue.name, prefetch = self.settings.prefetch, "consuming");

        let consuming = consumer
            .take_until(shutdown.cancelled())
            .take_while(|delivery| {
                if let Err(error) = delivery {
                    tracing::warn!(queue = %self.queue.name, %error, "delivery stream failed");
                }
                future::ready(delivery.is_ok())
            })
            .filter_map(|delivery| future::ready(delivery.ok()))
            .for_each_concurrent(self.settings.concurrency, |delivery| {
                self.process(delivery, handler, &side)
            });
        tokio::select! {
            () = consuming => {}
            () = gone(connection, [&channel, &side]) => {
                // The deliveries in hand can no longer be settled: the broker takes them back
                // with the channel and redelivers them. Waiting for their handlers (a sync
                // request can wait minutes for its cycle) would leave the service looking
                // ready while it takes nothing in.
                self.ready.send_replace(false);
                tracing::warn!(queue = %self.queue.name,
                    "the broker connection or a channel is gone; dropping the deliveries in hand");
            }
        }
        // Channels first: closing the connection under open channels makes lapin log errors.
        // Deliveries prefetched but not handled go back to the queue when the channel closes.
        for open in [&channel, &side] {
            if open.status().connected() {
                let _ = open.close(200, "consumer stopping".into()).await;
            }
        }
        Ok(())
    }

    async fn process<H, F>(&self, delivery: Delivery, handler: &H, side: &Channel)
    where
        H: Fn(Incoming) -> F + Sync,
        F: Future<Output = Outcome> + Send,
    {
        let incoming = Incoming::from_delivery(&delivery, &self.queue.name);
        let attempt = incoming.attempt;
        let span = detour_telemetry::ConsumeSpan::start(
            &incoming.exchange,
            &incoming.routing_key,
            &incoming.queue,
            incoming.message_id.as_deref().unwrap_or_default(),
            attempt,
        );
        detour_telemetry::set_remote_parent(&span, &incoming.trace_context);
        if let Some(message_type) = &incoming.message_type {
            span.record("detour.message_type", message_type.as_str());
        }
        let limit = self.settings.handler_timeout();
        let handled = AssertUnwindSafe(handler(incoming))
            .catch_unwind()
            .instrument(span.clone());
        let outcome = match tokio::time::timeout(limit, handled).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Outcome::Retry("the handler panicked".to_owned()),
            Err(_) => {
                let _inside = span.enter();
                tracing::error!(queue = %self.queue.name, ?limit,
                    "a handler ran past amqp.handler_timeout_ms; abandoned, its delivery retried");
                Outcome::Retry(format!(
                    "the handler ran past amqp.handler_timeout_ms ({limit:?}) and was abandoned"
                ))
            }
        };
        span.record("detour.outcome", outcome.label());
        if !matches!(outcome, Outcome::Handled) {
            span.record("otel.status_code", "error");
        }
        self.settle(&delivery, attempt, &outcome, side)
            .instrument(span)
            .await;
        metrics::counter!("detour_bus_deliveries_total",
            "queue" => self.queue.name.clone(), "outcome" => outcome.label())
        .increment(1);
    }

    async fn settle(&self, delivery: &Delivery, attempt: u32, outcome: &Outcome, side: &Channel) {
        let forwarded = match outcome {
            Outcome::Handled => Ok(()),
            Outcome::Retry(reason) if attempt < self.settings.max_attempts => {
                let next = attempt + 1;
                let delay = self.settings.retry_delay(next);
                let queue = self.queue.retry_queue(delay.as_millis() as u64);
                tracing::warn!(attempt, next_in = ?delay, %reason, "handler asked to retry");
                let mut table = carried_headers(delivery);
                headers::put_u32(&mut table, ATTEMPT_HEADER, next);
                headers::put_str(&mut table, ERROR_HEADER, reason);
                forward(side, "", &queue, delivery, table).await
            }
            Outcome::Retry(reason) => {
                tracing::error!(attempt, %reason, "retries exhausted; dead-lettering");
                self.dead_letter(delivery, attempt, "retries-exhausted", reason, side)
                    .await
            }
            Outcome::Reject(reason) => {
                tracing::error!(attempt, %reason, "rejected; dead-lettering");
                self.dead_letter(delivery, attempt, "rejected", reason, side)
                    .await
            }
            Outcome::Expired(reason) => {
                tracing::warn!(attempt, %reason, "expired; dead-lettering unread");
                self.dead_letter(delivery, attempt, "expired", reason, side)
                    .await
            }
        };
        let settled = match forwarded {
            Ok(()) => delivery.ack(BasicAckOptions::default()).await,
            Err(error) => {
                // Not forwarded: hand it back to the queue rather than lose it.
                tracing::warn!(%error, "could not forward the message; returning it to the queue");
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "could not settle the delivery; the broker will redeliver it");
        }
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        attempt: u32,
        kind: &str,
        reason: &str,
        side: &Channel,
    ) -> Result<(), String> {
        let mut table = carried_headers(delivery);
        headers::put_u32(&mut table, ATTEMPT_HEADER, attempt);
        headers::put_str(&mut table, ERROR_KIND_HEADER, kind);
        headers::put_str(&mut table, ERROR_HEADER, reason);
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        headers::put_str(&mut table, FAILED_AT_HEADER, &now);
        forward(
            side,
            DEAD_LETTER_EXCHANGE,
            &self.queue.name,
            delivery,
            table,
        )
        .await
    }
}

/// The delivery's headers, with its original exchange and routing key recorded once so they
/// survive the trip through a delay queue.
/// How often the consume loop looks at its connection and channels.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Returns once the connection or one of the channels is no longer usable.
async fn gone(connection: &Connection, channels: [&Channel; 2]) {
    let mut watch = tokio::time::interval(WATCH_EVERY);
    loop {
        watch.tick().await;
        let usable = connection.status().connected()
            && channels.iter().all(|channel| channel.status().connected());
        if !usable {
            return;
        }
    }
}

fn carried_headers(delivery: &Delivery) -> FieldTable {
    let mut table = delivery.properties.headers().clone().unwrap_or_default();
    if !table.contains_key(ORIGINAL_ROUTING_KEY_HEADER) {
        headers::put_str(
            &mut table,
            ORIGINAL_EXCHANGE_HEADER,
            delivery.exchange.as_str(),
        );
        headers::put_str(
            &mut table,
            ORIGINAL_ROUTING_KEY_HEADER,
            delivery.routing_key.as_str(),
        );
    }
    table
}

/// Publishes a copy of the delivery (same body and properties, new headers) and waits for its
/// confirm.
async fn forward(
    side: &Channel,
    exchange: &str,
    routing_key: &str,
    delivery: &Delivery,
    table: FieldTable,
) -> Result<(), String> {
    let properties = delivery.properties.clone().with_headers(table);
    publisher::try_publish(side, exchange, routing_key, &delivery.data, properties)
        .await
        .map_err(|error| error.to_string())
}
