//! ad-ops started in-process on a test vhost, users in the test's own OU, and a way to send a
//! command and wait for the event that answers it.

use std::{collections::HashSet, time::Duration};

use detour_bus::{Binding, Publisher, Subscription};
use detour_config::Sources;
use detour_contracts::{EVENTS_EXCHANGE, Envelope, EnvelopeHeader, Message};
use detour_service::{App, RunningApp, ServiceConfig, load_config};
use detour_testkit::{Directory, Stack, TestOu, TestVhost};

pub struct Harness {
    pub directory: Directory,
    pub ou: TestOu,
    pub tag: String,
    publisher: Publisher,
    events: Subscription,
    app: Option<RunningApp>,
    _vhost: TestVhost,
}

/// An answer: the event's type and its raw body, to decode as that type.
pub struct Answer {
    pub message_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn decode<M: Message>(&self) -> Envelope<M> {
        Envelope::<M>::from_json(&self.body)
            .unwrap_or_else(|e| panic!("expected {}, got {}: {e}", M::NAME, self.message_type))
    }
}

impl Harness {
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, &[]).await
    }

    /// Starts with extra settings, e.g. an LDAP URL through a proxy or more patient retries.
    pub async fn start_with(prefix: &str, overrides: &[(&str, &str)]) -> Self {
        let vhost = TestVhost::create(prefix).await.unwrap();
        let directory = Directory::from_stack().unwrap();
        let ou = TestOu::create(&directory, prefix).await.unwrap();
        let port = vhost.port.to_string();
        let mut env: Vec<(String, String)> = vec![
            ("DETOUR__AMQP__HOST".into(), vhost.host.clone()),
            ("DETOUR__AMQP__PORT".into(), port),
            ("DETOUR__AMQP__USERNAME".into(), vhost.username.clone()),
            ("DETOUR__AMQP__PASSWORD".into(), vhost.password.clone()),
            ("DETOUR__AMQP__VHOST".into(), vhost.name.clone()),
            ("DETOUR__AMQP__RETRY_DELAYS_MS".into(), "50".into()),
            ("DETOUR__AMQP__MAX_ATTEMPTS".into(), "2".into()),
            ("DETOUR__HTTP__LISTEN".into(), "127.0.0.1:0".into()),
        ];
        env.extend(Stack::load().unwrap().ldap_service_env().unwrap());
        env.retain(|(k, _)| k != "DETOUR__LDAP__SEARCH_BASE");
        env.push(("DETOUR__LDAP__SEARCH_BASE".into(), ou.dn.clone()));
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        let sources = Sources::from_pairs(
            String::new(),
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let settings: ad_ops::AdOpsSettings = load_config(ad_ops::DEFAULT_PORT, sources).unwrap();
        let events = Subscription::open(
            &settings.amqp,
            "test listener",
            &[Binding {
                exchange: EVENTS_EXCHANGE.into(),
                pattern: "ad-ops.*.v1".into(),
            }],
        )
        .await
        .unwrap();
        let publisher = Publisher::new(settings.amqp.clone(), "test publisher");
        let app = App::new(ad_ops::spec(&settings).unwrap(), settings.base())
            .start()
            .await
            .unwrap();
        let tag = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
        Self {
            directory,
            ou,
            tag,
            publisher,
            events,
            app: Some(app),
            _vhost: vhost,
        }
    }

    /// Publishes `command` and returns the event caused by it.
    pub async fn send<C: Message>(&mut self, command: C) -> Answer {
        let envelope = Envelope::new(command);
        // The queue is declared when the consumer first connects; retry until it exists.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.publisher.publish(&envelope).await {
                Ok(()) => break,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(error) => panic!("cannot send {}: {error}", C::NAME),
            }
        }
        loop {
            let incoming = self
                .events
                .next(Duration::from_secs(15))
                .await
                .expect("an answer within 15 s");
            let header = EnvelopeHeader::from_json(&incoming.body).unwrap();
            if header.causation_id == Some(envelope.message_id) {
                return Answer {
                    message_type: header.message_type,
                    body: incoming.body,
                };
            }
        }
    }

    /// Creates a user (as the administrator, as a fixture) in `ou` and returns its DN.
    pub async fn create_user(&self, cn: &str, sam: &str, ou: &str, proxies: &[&str]) -> String {
        let mut ldap = self.directory.bind_admin().await.unwrap();
        let dn = format!("CN={cn},{ou}");
        let upn = format!("{sam}@contoso.com");
        let mut attrs = vec![
            ("objectClass".to_owned(), HashSet::from(["user".to_owned()])),
            ("sAMAccountName".to_owned(), HashSet::from([sam.to_owned()])),
            ("userPrincipalName".to_owned(), HashSet::from([upn])),
        ];
        if !proxies.is_empty() {
            attrs.push((
                "proxyAddresses".to_owned(),
                proxies.iter().map(|p| (*p).to_owned()).collect(),
            ));
        }
        ldap.add(&dn, attrs).await.unwrap().success().unwrap();
        ldap.unbind().await.unwrap();
        dn
    }

    pub fn sam(&self, name: &str) -> String {
        format!("{name}{}", self.tag)
    }

    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop(Duration::from_secs(5)).await;
        }
    }
}
