//! The broker topology: the two topic exchanges, a dead-letter exchange, and for each consuming
//! queue its delay queues and its dead-letter queue. Declared on every (re)connect: declaring is
//! idempotent, and a broker that lost its state gets it back.

use std::collections::BTreeSet;

use detour_contracts::{COMMANDS_EXCHANGE, EVENTS_EXCHANGE};
use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::{AmqpSettings, BusError};

/// Direct exchange for dead letters; routing key = the name of the queue they died in.
pub const DEAD_LETTER_EXCHANGE: &str = "detour.dead-letter";

/// A consuming queue and what it is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub bindings: Vec<Binding>,
    /// Only one consumer at a time receives (the others stand by): replicas that must never
    /// act concurrently, such as sync-trigger's.
    pub single_active_consumer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub exchange: String,
    /// A topic pattern, e.g. `ad-ops.#`.
    pub pattern: String,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bindings: Vec::new(),
            single_active_consumer: false,
        }
    }

    pub fn bind(mut self, exchange: &str, pattern: &str) -> Self {
        self.bindings.push(Binding {
            exchange: exchange.to_owned(),
            pattern: pattern.to_owned(),
        });
        self
    }

    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letter", self.name)
    }

    /// One delay queue per distinct delay: a per-queue TTL keeps each FIFO, which per-message
    /// TTLs would not (an expired message waits behind a live one at the head).
    pub fn retry_queue(&self, delay_ms: u64) -> String {
        format!("{}.retry.{delay_ms}ms", self.name)
    }
}

/// Declares the exchanges and everything `spec` needs.
pub(crate) async fn declare_all(
    channel: &Channel,
    spec: &QueueSpec,
    settings: &AmqpSettings,
) -> Result<(), BusError> {
    declare_exchanges(channel)
        .await
        .map_err(BusError::Declare)?;
    declare_queue(channel, spec, settings)
        .await
        .map_err(BusError::Declare)
}

pub(crate) async fn declare_exchanges(channel: &Channel) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for exchange in [COMMANDS_EXCHANGE, EVENTS_EXCHANGE] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            durable,
            FieldTable::default(),
        )
        .await
}

async fn declare_queue(
    channel: &Channel,
    spec: &QueueSpec,
    settings: &AmqpSettings,
) -> lapin::Result<()> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };

    let mut main = FieldTable::default();
    main.insert("x-queue-type".into(), string("quorum"));
    main.insert(
        "x-dead-letter-exchange".into(),
        string(DEAD_LETTER_EXCHANGE),
    );
    main.insert("x-dead-letter-routing-key".into(), string(&spec.name));
    main.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(i64::from(settings.delivery_limit)),
    );
    if spec.single_active_consumer {
        main.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    }
    channel
        .queue_declare(short(&spec.name), durable, main)
        .await?;
    for binding in &spec.bindings {
        channel
            .queue_bind(
                short(&spec.name),
                short(&binding.exchange),
                short(&binding.pattern),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }

    let mut dead = FieldTable::default();
    dead.insert("x-queue-type".into(), string("quorum"));
    channel
        .queue_declare(short(&spec.dead_letter_queue()), durable, dead)
        .await?;
    channel
        .queue_bind(
            short(&spec.dead_letter_queue()),
            DEAD_LETTER_EXCHANGE.into(),
            short(&spec.name),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let delays: BTreeSet<u64> = settings.retry_delays_ms.iter().copied().collect();
    for delay_ms in delays {
        // Expired messages go back to the main queue through the default exchange.
        let mut delay = FieldTable::default();
        delay.insert("x-queue-type".into(), string("classic"));
        delay.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(delay_ms as i64),
        );
        delay.insert("x-dead-letter-exchange".into(), string(""));
        delay.insert("x-dead-letter-routing-key".into(), string(&spec.name));
        channel
            .queue_declare(short(&spec.retry_queue(delay_ms)), durable, delay)
            .await?;
    }
    Ok(())
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

fn short(value: &str) -> ShortString {
    ShortString::from(value)
}
