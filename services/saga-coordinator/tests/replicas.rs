//! Two coordinator replicas on one PostgreSQL store and one queue: they share the work (each
//! answer goes to whichever is free, each timer may be seen by both), and every saga still
//! completes with each effect in the world done exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use detour_config::Sources;
use detour_service::{App, ServiceConfig, load_config};
use detour_testkit::{
    InstantWorld, TestDatabase, TestVhost, eventually,
    instant_world::{WORLD_BASE, WORLD_DOMAIN, WORLD_SKU},
};
use saga_coordinator::CoordinatorSettings;
use serde_json::{Value, json};

const SAGAS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_share_sagas_and_never_repeat_an_effect() {
    let vhost = TestVhost::create("replicas").await.unwrap();
    let database = TestDatabase::create("replicas").await.unwrap();
    let (port, parking, sku) = (
        vhost.port.to_string(),
        format!("OU=Parked,{WORLD_BASE}"),
        WORLD_SKU.to_string(),
    );
    let pairs = [
        ("DETOUR__AMQP__HOST", vhost.host.as_str()),
        ("DETOUR__AMQP__PORT", port.as_str()),
        ("DETOUR__AMQP__USERNAME", vhost.username.as_str()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.as_str()),
        ("DETOUR__AMQP__VHOST", vhost.name.as_str()),
        ("DETOUR__HTTP__LISTEN", "127.0.0.1:0"),
        ("DETOUR__STORE__URL", database.url.as_str()),
        ("DETOUR__SAGA__COEXISTENCE_DOMAIN", WORLD_DOMAIN),
        ("DETOUR__SAGA__PARKING_OU", parking.as_str()),
        ("DETOUR__SAGA__TEMPORARY_SKU", sku.as_str()),
        ("DETOUR__SAGA__POLL_EVERY_MS", "50"),
        ("DETOUR__SAGA__TIMER_TICK_MS", "20"),
        // Few slots, so admission has a line to work through across replicas.
        ("DETOUR__SAGA__MAX_DESCOPED", "5"),
    ];
    let settings: CoordinatorSettings = load_config(
        saga_coordinator::DEFAULT_PORT,
        Sources::from_pairs(String::new(), pairs),
    )
    .unwrap();
    let world = InstantWorld::start(settings.amqp.clone()).await.unwrap();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let app = App::new(saga_coordinator::spec(&settings).unwrap(), settings.base())
            .start()
            .await
            .unwrap();
        let ready = format!("http://{}/readyz", app.ops_addr);
        eventually(Duration::from_secs(20), "a replica to consume", || async {
            let response = reqwest::get(&ready).await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        replicas.push(app);
    }
    let client = reqwest::Client::new();
    let users: Vec<String> = (0..SAGAS)
        .map(|n| format!("replica{n}@bench.example"))
        .collect();
    // Requests go to either replica, alternately; the first user is asked for twice at once,
    // once per replica, and the second request joins the first saga.
    for (n, user) in [&users[0]].into_iter().chain(&users).enumerate() {
        let api = format!("http://{}/api/v1/sagas", replicas[n % 2].ops_addr);
        let response = client
            .post(api)
            .json(&json!({ "user": user }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{}",
            response.text().await.unwrap()
        );
    }
    let list = format!(
        "http://{}/api/v1/sagas?status=completed&limit=1000",
        replicas[1].ops_addr
    );
    eventually(
        Duration::from_secs(120),
        "every saga to complete",
        || async {
            let done: Value = client.get(&list).send().await.ok()?.json().await.ok()?;
            (done["sagas"].as_array()?.len() == SAGAS).then_some(())
        },
    )
    .await;
    for user in &users {
        let effects = world.effects(user);
        for (effect, count) in [
            ("descoped", effects.descoped),
            ("restored", effects.restored),
            ("licensed", effects.licensed),
            ("address added", effects.address_added),
            ("rescoped", effects.rescoped),
            ("unlicensed", effects.unlicensed),
        ] {
            assert_eq!(count, 1, "{user}: {effect} {count} times");
        }
    }
    for app in replicas {
        app.stop(Duration::from_secs(5)).await;
    }
    world.stop();
}
