//! Throughput of detour-bus against raw lapin, in one run on one broker: N messages of 512
//! bytes through confirmed publish -> consume -> ack, with the same quorum queue type,
//! persistence, prefetch and number of confirms in flight. Prints both rates and their ratio.
//!
//! `cargo bench -p detour-bus --bench throughput [-- MESSAGES]` (default 20000); needs the dev
//! stack (`deploy/dev-stack.sh up`). Each run uses a fresh vhost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use detour_bus::{AmqpSettings, Consumer, Outcome, Outgoing, Publisher, QueueSpec};
use detour_contracts::COMMANDS_EXCHANGE;
use detour_testkit::TestVhost;
use futures_util::{StreamExt, stream};
use lapin::{
    BasicProperties, Confirmation, Connection, ConnectionProperties,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString},
};
use tokio_util::sync::CancellationToken;

const BODY_BYTES: usize = 512;
const PREFETCH: u16 = 256;
/// Publishes awaiting their confirm at once: confirming one by one caps a broker at a few
/// thousand messages a second, whichever client sends them.
const IN_FLIGHT: usize = 256;

#[tokio::main]
async fn main() {
    let messages: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20_000);
    let vhost = TestVhost::create("bench")
        .await
        .expect("dev stack up? deploy/dev-stack.sh up");
    let body = vec![b'x'; BODY_BYTES];
    println!(
        "{messages} messages of {BODY_BYTES} bytes, quorum queue, persistent, prefetch {PREFETCH}, {IN_FLIGHT} confirms in flight"
    );

    // Two alternating rounds, so neither side alone pays for a cold broker.
    let (mut raw, mut bus) = (0f64, 0f64);
    for round in 1..=2 {
        let raw_rate = raw_lapin(&vhost, &format!("raw-bench-{round}"), messages, &body).await;
        let bus_rate = detour_bus(&vhost, &format!("bus-bench-{round}"), messages, &body).await;
        println!(
            "round {round}: raw lapin {raw_rate:>8.0} msg/s, detour-bus {bus_rate:>8.0} msg/s"
        );
        raw = raw.max(raw_rate);
        bus = bus.max(bus_rate);
    }
    println!("best: raw lapin {raw:.0} msg/s, detour-bus {bus:.0} msg/s");
    println!(
        "ratio {:.2} (detour-bus / raw lapin; target >= 0.80)",
        bus / raw
    );
}

async fn raw_lapin(vhost: &TestVhost, queue: &str, messages: usize, body: &[u8]) -> f64 {
    let publish_conn = Connection::connect(&vhost.amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let consume_conn = Connection::connect(&vhost.amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = publish_conn.create_channel().await.unwrap();
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(b"quorum".to_vec())),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            COMMANDS_EXCHANGE.into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_declare(queue.into(), durable, args)
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.into(),
            COMMANDS_EXCHANGE.into(),
            format!("{queue}.#").as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();

    let consume_channel = consume_conn.create_channel().await.unwrap();
    consume_channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await
        .unwrap();
    let consumer = consume_channel
        .basic_consume(
            queue.into(),
            "raw".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let start = Instant::now();
    // Acks in flight up to the prefetch, as detour-bus handles deliveries.
    let consume = tokio::spawn(async move {
        consumer
            .take(messages)
            .for_each_concurrent(usize::from(PREFETCH), |delivery| async move {
                delivery
                    .unwrap()
                    .ack(BasicAckOptions::default())
                    .await
                    .unwrap();
            })
            .await;
    });
    let routing_key = format!("{queue}.x");
    stream::iter(0..messages)
        .map(|_| {
            let (channel, routing_key) = (channel.clone(), routing_key.clone());
            async move {
                let properties = BasicProperties::default().with_delivery_mode(2);
                let options = BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                };
                let confirm = channel
                    .basic_publish(
                        COMMANDS_EXCHANGE.into(),
                        routing_key.as_str().into(),
                        options,
                        body,
                        properties,
                    )
                    .await
                    .unwrap();
                let confirmation = confirm.await.unwrap();
                assert!(
                    matches!(confirmation, Confirmation::Ack(None)),
                    "{confirmation:?}"
                );
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    consume.await.unwrap();
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    let _ = publish_conn.close(200, "done".into()).await;
    let _ = consume_conn.close(200, "done".into()).await;
    rate
}

async fn detour_bus(vhost: &TestVhost, queue: &str, messages: usize, body: &[u8]) -> f64 {
    let settings: AmqpSettings = serde_json::from_value(serde_json::json!({
        "host": vhost.host, "port": vhost.port, "username": vhost.username, "password": vhost.password,
        "vhost": vhost.name, "prefetch": PREFETCH, "concurrency": PREFETCH, "retry_delays_ms": [1000],
        "max_attempts": 3, "delivery_limit": 20, "publish_timeout_ms": 30000,
        "reconnect_min_ms": 100, "reconnect_max_ms": 1000,
    }))
    .unwrap();
    let consumer = Arc::new(Consumer::new(
        settings.clone(),
        QueueSpec::new(queue).bind(COMMANDS_EXCHANGE, &format!("{queue}.#")),
        "bench consumer",
    ));
    consumer.declare().await.unwrap();
    let publisher = Publisher::new(settings, "bench publisher");
    publisher.ensure_connected().await.unwrap();

    let seen = Arc::new(AtomicUsize::new(0));
    let shutdown = CancellationToken::new();
    let start = Instant::now();
    let counter = seen.clone();
    let run = {
        let (consumer, shutdown) = (consumer.clone(), shutdown.clone());
        tokio::spawn(async move {
            consumer
                .run(
                    move |_| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        async { Outcome::Handled }
                    },
                    shutdown,
                )
                .await
        })
    };
    let routing_key = format!("{queue}.x");
    stream::iter(0..messages)
        .map(|i| {
            let (publisher, routing_key) = (publisher.clone(), routing_key.clone());
            async move {
                let id = i.to_string();
                publisher
                    .publish_outgoing(Outgoing {
                        exchange: COMMANDS_EXCHANGE,
                        routing_key: &routing_key,
                        body,
                        message_id: &id,
                        message_type: "bench",
                        headers: Vec::new(),
                    })
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    while seen.load(Ordering::Relaxed) < messages {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    shutdown.cancel();
    run.await.unwrap();
    publisher.close().await;
    rate
}
