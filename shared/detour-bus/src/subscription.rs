//! A temporary listener for tools that watch events (the demo, live progress views): an
//! exclusive, server-named queue that disappears with its connection. Services never use it:
//! their queues are durable and their deliveries acknowledged.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::{
    Connection,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};

use crate::{AmqpSettings, Binding, BusError, Incoming, connect, topology};

#[derive(Debug)]
pub struct Subscription {
    connection: Connection,
    queue: String,
    consumer: lapin::Consumer,
}

impl Subscription {
    pub async fn open(
        settings: &AmqpSettings,
        name: &str,
        bindings: &[Binding],
    ) -> Result<Self, BusError> {
        let connection = connect::open(settings, name).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(BusError::Declare)?;
        topology::declare_exchanges(&channel)
            .await
            .map_err(BusError::Declare)?;
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), options, FieldTable::default())
            .await
            .map_err(BusError::Declare)?
            .name()
            .as_str()
            .to_owned();
        for binding in bindings {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    binding.exchange.as_str().into(),
                    binding.pattern.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(BusError::Declare)?;
        }
        let options = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                name.into(),
                options,
                FieldTable::default(),
            )
            .await
            .map_err(|source| BusError::Consume {
                queue: queue.clone(),
                source,
            })?;
        Ok(Self {
            connection,
            queue,
            consumer,
        })
    }

    /// The next message, or `None` after `timeout` or when the connection is gone.
    pub async fn next(&mut self, timeout: Duration) -> Option<Incoming> {
        match tokio::time::timeout(timeout, self.consumer.next()).await {
            Ok(Some(Ok(delivery))) => Some(Incoming::from_delivery(&delivery, &self.queue)),
            _ => None,
        }
    }

    pub async fn close(self) {
        let _ = self
            .connection
            .close(200, "subscription closed".into())
            .await;
    }
}
