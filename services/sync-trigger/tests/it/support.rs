//! tenant-sim in-process over a test OU, one or more sync-trigger instances on a test vhost,
//! and a way to send commands and collect the events that answer them.

use std::{collections::HashMap, time::Duration};

use detour_bus::{Binding, Publisher, Subscription};
use detour_config::{Secret, Sources};
use detour_contracts::{EVENTS_EXCHANGE, Envelope, EnvelopeHeader, Message, MessageId};
use detour_service::{App, RunningApp, ServiceConfig, load_config};
use detour_testkit::{Directory, TestOu, TestVhost};
use serde_json::{Value, json};
use tenant_sim::{ad::AdSettings, app::Sim};
use uuid::Uuid;

pub const AGENT_KEY: &str = "test-agent-key";

pub struct Harness {
    pub sim_url: String,
    pub directory: Directory,
    pub ou: TestOu,
    pub tag: String,
    pub client: reqwest::Client,
    publisher: Publisher,
    events: Subscription,
    apps: Vec<RunningApp>,
    settings: sync_trigger::SyncTriggerSettings,
    _vhost: TestVhost,
    _sim: tokio::task::JoinHandle<()>,
}

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

impl Harness {
    /// tenant-sim with `users` in the test's OU=Staff (in scope), and `replicas` sync-triggers.
    pub async fn start(
        prefix: &str,
        users: &[&str],
        replicas: usize,
        customize: impl FnOnce(&mut Value),
    ) -> Self {
        let directory = Directory::from_stack().unwrap();
        let ou = TestOu::create(&directory, prefix).await.unwrap();
        let tag = Uuid::new_v4().simple().to_string()[..6].to_owned();
        let (admin, password) = directory.admin_credentials();
        let sim = Sim::new(AdSettings {
            url: directory.url.clone(),
            ca_file: directory.ca_file.clone().into(),
            bind_dn: admin.to_owned(),
            bind_password: Some(Secret::new(password)),
            bind_password_file: None,
            search_base: ou.dn.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = tenant_sim::http::serve(listener, sim, std::future::pending()).await;
        });
        let staff = format!("OU=Staff,{}", ou.dn);
        let users: Vec<Value> = users
            .iter()
            .map(|name| {
                let sam = format!("{name}{tag}");
                json!({ "ou": staff, "sam_account_name": sam, "user_principal_name": format!("{sam}@contoso.com"), "display_name": format!("{name} {tag}") })
            })
            .collect();
        let mut scenario = json!({
            "tenant": { "id": Uuid::new_v4(), "initial_domain": "contoso.onmicrosoft.com", "coexistence_domain": "contoso.mail.onmicrosoft.com", "verified_domains": ["contoso.com"] },
            "connect": { "version": "2.4.18.0", "scope_ous": [staff] },
            "ad": { "ous": [staff, format!("OU=Parked,{}", ou.dn)], "users": users },
            "apps": [{ "client_id": Uuid::new_v4(), "client_secret": "unused" }],
            "agent_key": AGENT_KEY,
            "delays": { "cycle_seconds": 0.5 },
        });
        customize(&mut scenario);
        let client = reqwest::Client::new();
        let loaded = client
            .post(format!("{sim_url}/_sim/scenario"))
            .json(&scenario)
            .send()
            .await
            .unwrap();
        assert!(
            loaded.status().is_success(),
            "{}",
            loaded.text().await.unwrap()
        );

        let vhost = TestVhost::create(prefix).await.unwrap();
        let env = [
            ("DETOUR__AMQP__HOST", vhost.host.clone()),
            ("DETOUR__AMQP__PORT", vhost.port.to_string()),
            ("DETOUR__AMQP__USERNAME", vhost.username.clone()),
            ("DETOUR__AMQP__PASSWORD", vhost.password.clone()),
            ("DETOUR__AMQP__VHOST", vhost.name.clone()),
            ("DETOUR__HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            ("DETOUR__CONNECT__BASE_URL", sim_url.clone()),
            ("DETOUR__CONNECT__AGENT_KEY", AGENT_KEY.to_owned()),
            ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "300".to_owned()),
            ("DETOUR__CONNECT__POLL_INTERVAL_MS", "100".to_owned()),
            ("DETOUR__CONNECT__BUSY_RETRY_MS", "100".to_owned()),
        ];
        let sources = Sources::from_pairs(String::new(), env.iter().map(|(k, v)| (*k, v.as_str())));
        let settings: sync_trigger::SyncTriggerSettings =
            load_config(sync_trigger::DEFAULT_PORT, sources).unwrap();
        let events = Subscription::open(
            &settings.amqp,
            "test listener",
            &[Binding {
                exchange: EVENTS_EXCHANGE.into(),
                pattern: "sync-trigger.*.v1".into(),
            }],
        )
        .await
        .unwrap();
        let publisher = Publisher::new(settings.amqp.clone(), "test publisher");
        let mut harness = Self {
            sim_url,
            directory,
            ou,
            tag,
            client,
            publisher,
            events,
            apps: Vec::new(),
            settings,
            _vhost: vhost,
            _sim: server,
        };
        for _ in 0..replicas {
            harness.add_replica().await;
        }
        harness
    }

    pub async fn add_replica(&mut self) {
        let spec = sync_trigger::spec(&self.settings).unwrap();
        self.apps
            .push(App::new(spec, self.settings.base()).start().await.unwrap());
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

    pub async fn answers(&mut self, ids: &[MessageId]) -> Vec<Answer> {
        let mut found: HashMap<MessageId, Answer> = HashMap::new();
        while found.len() < ids.len() {
            let incoming = self
                .events
                .next(Duration::from_secs(30))
                .await
                .expect("answers within 30 s");
            let header = EnvelopeHeader::from_json(&incoming.body).unwrap();
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
        ids.iter().map(|id| found.remove(id).unwrap()).collect()
    }

    pub async fn agent(&self, path: &str) -> Value {
        self.client
            .get(format!("{}/connect/v1{path}", self.sim_url))
            .bearer_auth(AGENT_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn runs(&self) -> Vec<Value> {
        self.agent("/runs?limit=1000").await["runs"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The objectGUID of `name`, from the sim's connector space.
    pub async fn guid(&self, name: &str) -> Uuid {
        let world: Value = self
            .client
            .get(format!("{}/_sim/world", self.sim_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let sam = format!("CN={name} {}", self.tag);
        let entry = world["connect"]["connector_space"]
            .as_object()
            .unwrap()
            .values()
            .find(|e| e["distinguished_name"].as_str().unwrap().starts_with(&sam))
            .unwrap_or_else(|| panic!("{name} is not in the connector space"));
        entry["object_guid"].as_str().unwrap().parse().unwrap()
    }

    pub async fn move_out(&self, name: &str) {
        let mut ldap = self.directory.bind_service_account().await.unwrap();
        let rdn = format!("CN={name} {}", self.tag);
        let from = format!("{rdn},OU=Staff,{}", self.ou.dn);
        ldap.modifydn(
            &from,
            &rdn,
            true,
            Some(&format!("OU=Parked,{}", self.ou.dn)),
        )
        .await
        .unwrap()
        .success()
        .unwrap();
        ldap.unbind().await.unwrap();
    }

    pub async fn stop(mut self) {
        for app in self.apps.drain(..) {
            app.stop(Duration::from_secs(5)).await;
        }
    }
}
