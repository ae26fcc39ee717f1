//! What the coordinator's own tests and benchmark share: a test vhost and store, the settings
//! that point a coordinator at them and at the instant world, coordinators started in-process,
//! and the waits and checks around them.

#![allow(dead_code, reason = "each test uses its own part")]

use std::time::Duration;

use detour_config::Sources;
use detour_service::{App, RunningApp, ServiceConfig, load_config};
use detour_testkit::{
    InstantWorld, TestDatabase, TestSqlite, TestVhost, eventually,
    instant_world::{Effects, WORLD_BASE, WORLD_DOMAIN, WORLD_SKU},
};
use saga_coordinator::CoordinatorSettings;
use serde_json::{Value, json};

/// A vhost and a store of the test's own, and the instant world answering on that vhost.
pub struct Bench {
    pub world: InstantWorld,
    pub store_url: String,
    vhost: TestVhost,
    _sqlite: Option<TestSqlite>,
    _postgres: Option<TestDatabase>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Bench {
    pub async fn new(name: &str, backend: Backend) -> Self {
        let vhost = TestVhost::create(name).await.unwrap();
        let (sqlite, postgres) = match backend {
            Backend::Sqlite => (Some(TestSqlite::create(name).unwrap()), None),
            Backend::Postgres => (None, Some(TestDatabase::create(name).await.unwrap())),
        };
        let store_url = match (&sqlite, &postgres) {
            (Some(db), _) => db.url.clone(),
            (_, Some(db)) => db.url.clone(),
            _ => unreachable!("one backend is chosen"),
        };
        let amqp = settings_from(&env(&vhost, &store_url, &[])).amqp;
        Self {
            world: InstantWorld::start(amqp).await.unwrap(),
            store_url,
            vhost,
            _sqlite: sqlite,
            _postgres: postgres,
        }
    }

    /// The environment a coordinator of this bench runs with, plus `extra`.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        env(&self.vhost, &self.store_url, extra)
    }

    /// A coordinator started in-process with `extra` settings, consuming when returned.
    pub async fn coordinator(&self, extra: &[(&str, &str)]) -> RunningApp {
        let settings = settings_from(&self.env(extra));
        let app = App::new(saga_coordinator::spec(&settings).unwrap(), settings.base())
            .start()
            .await
            .unwrap();
        ready(app.ops_addr.port()).await;
        app
    }
}

fn env(vhost: &TestVhost, store_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("DETOUR__AMQP__HOST", vhost.host.clone()),
        ("DETOUR__AMQP__PORT", vhost.port.to_string()),
        ("DETOUR__AMQP__USERNAME", vhost.username.clone()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.clone()),
        ("DETOUR__AMQP__VHOST", vhost.name.clone()),
        ("DETOUR__HTTP__LISTEN", "127.0.0.1:0".into()),
        ("DETOUR__STORE__URL", store_url.to_owned()),
        ("DETOUR__SAGA__COEXISTENCE_DOMAIN", WORLD_DOMAIN.into()),
        (
            "DETOUR__SAGA__PARKING_OU",
            format!("OU=Parked,{WORLD_BASE}"),
        ),
        ("DETOUR__SAGA__TEMPORARY_SKU", WORLD_SKU.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (key, value) in extra {
        pairs.retain(|(k, _)| k != key);
        pairs.push(((*key).to_owned(), (*value).to_owned()));
    }
    pairs
}

pub fn settings_from(env: &[(String, String)]) -> CoordinatorSettings {
    load_config(
        saga_coordinator::DEFAULT_PORT,
        Sources::from_pairs(
            String::new(),
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
    )
    .unwrap()
}

/// Waits until the coordinator on `port` consumes.
pub async fn ready(port: u16) {
    let url = format!("http://127.0.0.1:{port}/readyz");
    eventually(
        Duration::from_secs(30),
        "the coordinator to consume",
        || async {
            let response = reqwest::get(&url).await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
}

/// Starts a remediation of `user` through the API at `api` (`http://host:port/api/v1`).
pub async fn start_saga(client: &reqwest::Client, api: &str, user: &str) -> String {
    let reply: Value = client
        .post(format!("{api}/sagas"))
        .json(&json!({ "user": user }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["saga_id"].as_str().unwrap().to_owned()
}

/// Waits until `count` sagas have completed (asking for counts only, which costs the store
/// little while it is being measured).
pub async fn all_completed(client: &reqwest::Client, api: &str, count: usize, within: Duration) {
    let counts = format!("{api}/counts");
    eventually(within, "every saga to complete", || async {
        let counts: Value = client.get(&counts).send().await.ok()?.json().await.ok()?;
        (counts["completed"].as_u64()? == count as u64).then_some(())
    })
    .await;
}

/// Each effect of a round trip happened exactly once for `user`.
pub fn assert_each_effect_once(effects: &Effects, user: &str) {
    for (effect, count) in [
        ("descoped", effects.descoped),
        ("deleted by sync", effects.deleted_by_sync),
        ("restored", effects.restored),
        ("licensed", effects.licensed),
        ("address added", effects.address_added),
        ("rescoped", effects.rescoped),
        ("matched by sync", effects.matched_by_sync),
        ("unlicensed", effects.unlicensed),
    ] {
        assert_eq!(count, 1, "{user}: {effect} {count} times");
    }
}
