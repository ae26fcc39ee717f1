//! A publisher and a consumer on one test vhost, with helpers to collect what was handled and
//! read the dead-letter queue.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use detour_bus::{AmqpSettings, Consumer, Incoming, Outcome, Publisher, QueueSpec};
use detour_contracts::{COMMANDS_EXCHANGE, Envelope, Ping};
use detour_testkit::TestVhost;
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;

pub const MAX_ATTEMPTS: u32 = 3;

pub fn settings(vhost: &TestVhost) -> AmqpSettings {
    serde_json::from_value(serde_json::json!({
        "host": vhost.host,
        "port": vhost.port,
        "username": vhost.username,
        "password": vhost.password,
        "vhost": vhost.name,
        "prefetch": 32,
        "concurrency": 8,
        "retry_delays_ms": [50, 100],
        "max_attempts": MAX_ATTEMPTS,
        "delivery_limit": 20,
        "publish_timeout_ms": 20000,
        "reconnect_min_ms": 50,
        "reconnect_max_ms": 1000,
    }))
    .unwrap()
}

pub struct Harness {
    pub vhost: TestVhost,
    pub publisher: Publisher,
    consumer: Arc<Consumer>,
    shutdown: CancellationToken,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Harness {
    /// A vhost with the `ad-ops` queue declared (bound to `ad-ops.#` commands) and a publisher.
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, |_| {}).await
    }

    /// [`Harness::start`], with `adjust` applied to the settings.
    pub async fn start_with(prefix: &str, adjust: impl FnOnce(&mut AmqpSettings)) -> Self {
        let vhost = TestVhost::create(prefix).await.unwrap();
        let mut settings = settings(&vhost);
        adjust(&mut settings);
        let queue = QueueSpec::new("ad-ops").bind(COMMANDS_EXCHANGE, "ad-ops.#");
        let consumer = Arc::new(Consumer::new(settings.clone(), queue, "test-consumer"));
        consumer.declare().await.unwrap();
        let publisher = Publisher::new(settings, "test-publisher");
        Self {
            vhost,
            publisher,
            consumer,
            shutdown: CancellationToken::new(),
            tasks: Mutex::new(Vec::new()),
        }
    }

    pub fn consume<H, F>(&self, handler: H)
    where
        H: Fn(Incoming) -> F + Send + Sync + 'static,
        F: Future<Output = Outcome> + Send + 'static,
    {
        let (consumer, shutdown) = (self.consumer.clone(), self.shutdown.clone());
        let task = tokio::spawn(async move { consumer.run(handler, shutdown).await });
        self.tasks.lock().unwrap().push(task);
    }

    /// Whether the consumer says it is consuming.
    pub fn ready(&self) -> bool {
        *self.consumer.readiness().borrow()
    }

    /// Publishes one ping to the harness's queue, confirmed.
    pub async fn publish_ping(&self) {
        let ping = Envelope::new(Ping {
            target: detour_contracts::Service::AdOps,
        });
        self.publisher.publish(&ping).await.unwrap();
    }

    /// Never returns from the first call (wedged, as a sync request waits for a cycle, so
    /// the delivery stays in hand) and handles every later one; counts the calls.
    pub fn hang_on_the_first_call(&self) -> Arc<std::sync::atomic::AtomicU32> {
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        self.consume(move |_| {
            let call = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            async move {
                if call == 1 {
                    std::future::pending::<()>().await;
                }
                Outcome::Handled
            }
        });
        calls
    }

    /// Answers every delivery with `outcome`, counting the calls.
    pub fn count_calls(&self, outcome: Outcome) -> Arc<Mutex<u32>> {
        let calls = Arc::new(Mutex::new(0u32));
        let counted = calls.clone();
        self.consume(move |_| {
            *counted.lock().unwrap() += 1;
            std::future::ready(outcome.clone())
        });
        calls
    }

    /// Handles everything, keeping each delivery.
    pub fn collect_handled(&self) -> Arc<Mutex<Vec<Incoming>>> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        self.consume(move |incoming| {
            sink.lock().unwrap().push(incoming);
            async { Outcome::Handled }
        });
        received
    }

    /// Decodes pings, keeping their message ids; rejects what does not decode, as services do.
    pub fn collect_decoded_pings(&self) -> Arc<Mutex<Vec<String>>> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        self.consume(move |incoming| {
            let outcome = match incoming.decode::<Ping>() {
                Ok(ping) => {
                    sink.lock().unwrap().push(ping.message_id.to_string());
                    Outcome::Handled
                }
                Err(error) => Outcome::Reject(error.to_string()),
            };
            async move { outcome }
        });
        received
    }

    /// Takes every message now in the dead-letter queue: headers and body.
    pub async fn dead_letters(&self) -> Vec<(FieldTable, Vec<u8>)> {
        let queue = self.consumer.queue().dead_letter_queue();
        self.vhost.take_all(&queue).await.unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        for task in tasks {
            task.await.unwrap();
        }
        self.publisher.close().await;
    }
}

pub fn header_str(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        _ => None,
    }
}

pub fn header_u32(table: &FieldTable, key: &str) -> Option<u32> {
    match table.inner().get(key)? {
        AMQPValue::LongUInt(n) => Some(*n),
        _ => None,
    }
}
