//! One service (or several replicas) started in-process on a test vhost, exactly as its binary
//! wires it, with a publisher for commands and a listener for the events that answer them.

use std::{collections::HashMap, time::Duration};

use detour_bus::{AmqpSettings, Binding, Publisher, Subscription};
use detour_config::Sources;
use detour_contracts::{EVENTS_EXCHANGE, Envelope, EnvelopeHeader, Message, MessageId};
use detour_service::{App, RunningApp, ServiceSettings, ServiceSpec};

use crate::TestVhost;

/// Builds the service from its settings sources, as its binary would.
pub type Build =
    Box<dyn Fn(Sources) -> anyhow::Result<(ServiceSpec, ServiceSettings)> + Send + Sync>;

pub struct ServiceHarness {
    amqp: AmqpSettings,
    publisher: Publisher,
    events: Subscription,
    apps: Vec<RunningApp>,
    builds: Vec<Build>,
    env: Vec<(String, String)>,
    vhost: TestVhost,
}

/// An event that answered a command: its type and body, to decode as that type.
#[derive(Debug)]
pub struct Answer {
    pub message_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn decode<M: Message>(&self) -> M {
        Envelope::<M>::from_json(&self.body)
            .unwrap_or_else(|e| panic!("expected {}, got {}: {e}", M::NAME, self.message_type))
            .payload
    }
}

impl std::fmt::Debug for ServiceHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHarness")
            .field("replicas", &self.apps.len())
            .finish()
    }
}

impl ServiceHarness {
    /// Starts `replicas` instances with the vhost's broker settings plus `env`, listening to
    /// events matching `events` (e.g. `ad-ops.*.v1`).
    pub async fn start(
        prefix: &str,
        events: &str,
        env: Vec<(String, String)>,
        replicas: usize,
        build: Build,
    ) -> anyhow::Result<Self> {
        let mut harness = Self::start_many(prefix, events, env, vec![build]).await?;
        for _ in 1..replicas {
            harness.add_replica().await?;
        }
        Ok(harness)
    }

    /// Starts one instance of each service on one vhost (each build adds its own settings to
    /// the shared `env`), listening to events matching `events`.
    pub async fn start_many(
        prefix: &str,
        events: &str,
        env: Vec<(String, String)>,
        builds: Vec<Build>,
    ) -> anyhow::Result<Self> {
        let vhost = TestVhost::create(prefix).await?;
        let mut all = vec![
            ("DETOUR__AMQP__HOST".to_owned(), vhost.host.clone()),
            ("DETOUR__AMQP__PORT".to_owned(), vhost.port.to_string()),
            ("DETOUR__AMQP__USERNAME".to_owned(), vhost.username.clone()),
            ("DETOUR__AMQP__PASSWORD".to_owned(), vhost.password.clone()),
            ("DETOUR__AMQP__VHOST".to_owned(), vhost.name.clone()),
            ("DETOUR__AMQP__RETRY_DELAYS_MS".to_owned(), "50".to_owned()),
            ("DETOUR__AMQP__MAX_ATTEMPTS".to_owned(), "3".to_owned()),
            ("DETOUR__HTTP__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ];
        for (key, value) in env {
            all.retain(|(k, _)| *k != key);
            all.push((key, value));
        }
        let first = builds
            .first()
            .ok_or_else(|| anyhow::anyhow!("no service to start"))?;
        let (_, settings) = first(sources(&all))?;
        let listen = Binding {
            exchange: EVENTS_EXCHANGE.into(),
            pattern: events.into(),
        };
        let events = Subscription::open(&settings.amqp, "test listener", &[listen]).await?;
        let publisher = Publisher::new(settings.amqp.clone(), "test publisher");
        let mut harness = Self {
            amqp: settings.amqp.clone(),
            publisher,
            events,
            apps: Vec::new(),
            builds,
            env: all,
            vhost,
        };
        for index in 0..harness.builds.len() {
            harness.launch(index).await?;
        }
        Ok(harness)
    }

    /// Where the `index`th started app (in build order) serves its ops port and routes.
    pub fn ops_addr(&self, index: usize) -> std::net::SocketAddr {
        self.apps[index].ops_addr
    }

    /// The settings every instance gets (the test vhost's broker among them), as environment
    /// variables: for a service started as its own process beside the harness.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// The test vhost, to read its queues.
    pub fn vhost(&self) -> &TestVhost {
        &self.vhost
    }

    /// The harness's publisher, for raw copies of messages (replays).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// A listener of its own for the events matching `patterns`, from now on.
    pub async fn listen(&self, patterns: &[&str]) -> anyhow::Result<Subscription> {
        let bindings: Vec<Binding> = patterns
            .iter()
            .map(|pattern| Binding {
                exchange: EVENTS_EXCHANGE.into(),
                pattern: (*pattern).into(),
            })
            .collect();
        Ok(Subscription::open(&self.amqp, "test listener", &bindings).await?)
    }

    /// Another instance of the first service.
    pub async fn add_replica(&mut self) -> anyhow::Result<()> {
        self.launch(0).await
    }

    /// Starts the `index`th service and waits until it consumes (its queue is declared), so
    /// commands sent to it from then on are routed.
    async fn launch(&mut self, index: usize) -> anyhow::Result<()> {
        let (spec, settings) = (self.builds[index])(sources(&self.env))?;
        let app = App::new(spec, settings).start().await?;
        let ready = format!("http://{}/readyz", app.ops_addr);
        self.apps.push(app);
        let client = reqwest::Client::new();
        crate::eventually(
            Duration::from_secs(20),
            "the service to consume",
            || async {
                let response = client.get(&ready).send().await.ok()?;
                response.status().is_success().then_some(())
            },
        )
        .await;
        Ok(())
    }

    /// Publishes `command` and returns the event that answers it.
    pub async fn send<C: Message>(&mut self, command: C) -> Answer {
        self.send_all(vec![command]).await.remove(0)
    }

    /// Publishes every command, then returns each one's answer, in the same order.
    pub async fn send_all<C: Message>(&mut self, commands: Vec<C>) -> Vec<Answer> {
        let mut ids = Vec::new();
        for command in commands {
            let envelope = Envelope::new(command);
            self.publish(&envelope).await;
            ids.push(envelope.message_id);
        }
        self.answers(&ids).await
    }

    pub async fn publish<C: Message>(&self, envelope: &Envelope<C>) {
        // The queue exists once a consumer has connected; until then a publish is unroutable.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Err(error) = self.publisher.publish(envelope).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "cannot send {}: {error}",
                C::NAME
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The answers to the commands with these ids, in the same order.
    pub async fn answers(&mut self, ids: &[MessageId]) -> Vec<Answer> {
        let mut found: HashMap<MessageId, Answer> = HashMap::new();
        while found.len() < ids.len() {
            let incoming = self
                .events
                .next(Duration::from_secs(30))
                .await
                .expect("answers within 30 s");
            let header = EnvelopeHeader::from_json(&incoming.body).expect("an envelope");
            if let Some(cause) = header.causation_id.filter(|c| ids.contains(c)) {
                found.insert(
                    cause,
                    Answer {
                        message_type: header.message_type,
                        body: incoming.body,
                    },
                );
            }
        }
        ids.iter().filter_map(|id| found.remove(id)).collect()
    }

    pub async fn stop(mut self) {
        for app in self.apps.drain(..) {
            app.stop(Duration::from_secs(5)).await;
        }
    }
}

fn sources(env: &[(String, String)]) -> Sources {
    Sources::from_pairs(
        String::new(),
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
}
