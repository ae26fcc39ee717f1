//! Saga transitions per second through the whole coordinator: its queue consumed, each answer
//! decided, stored (record, inbox, outbox, timers, log in one transaction) and the next
//! command published with a broker confirm, on SQLite and on PostgreSQL. The step services
//! are the instant world, so the coordinator sets the pace.
//!
//! `cargo bench -p saga-coordinator --bench transitions [-- --sagas N --backend sqlite|postgres]`
//! (needs the dev stack: `deploy/dev-stack.sh up`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark")]

use std::time::{Duration, Instant};

use detour_config::Sources;
use detour_service::{App, ServiceConfig, load_config};
use detour_testkit::{
    InstantWorld, TestDatabase, TestSqlite, TestVhost, eventually,
    instant_world::{WORLD_BASE, WORLD_DOMAIN, WORLD_SKU},
};
use saga_coordinator::{CoordinatorSettings, api::SagaView};
use serde_json::{Value, json};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut sagas = 200usize;
    let mut backends = vec!["sqlite", "postgres"];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sagas" => sagas = args.next().and_then(|n| n.parse().ok()).expect("--sagas N"),
            "--backend" => {
                backends = vec![if args.next().as_deref() == Some("postgres") {
                    "postgres"
                } else {
                    "sqlite"
                }]
            }
            _ => {} // cargo bench passes --bench
        }
    }
    println!(
        "{:<10} {:>6} {:>12} {:>9} {:>14} {:>10}",
        "backend", "sagas", "transitions", "seconds", "transitions/s", "commands"
    );
    for backend in backends {
        run(backend, sagas).await;
    }
}

async fn run(backend: &str, sagas: usize) {
    let vhost = TestVhost::create("bench").await.unwrap();
    let (sqlite, postgres) = match backend {
        "postgres" => (None, Some(TestDatabase::create("bench").await.unwrap())),
        _ => (Some(TestSqlite::create("bench").unwrap()), None),
    };
    let store = sqlite
        .as_ref()
        .map(|s| s.url.clone())
        .or(postgres.as_ref().map(|p| p.url.clone()))
        .unwrap();
    let port = vhost.port.to_string();
    let parking = format!("OU=Parked,{WORLD_BASE}");
    let sku = WORLD_SKU.to_string();
    let pairs = [
        ("DETOUR__AMQP__HOST", vhost.host.as_str()),
        ("DETOUR__AMQP__PORT", port.as_str()),
        ("DETOUR__AMQP__USERNAME", vhost.username.as_str()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.as_str()),
        ("DETOUR__AMQP__VHOST", vhost.name.as_str()),
        ("DETOUR__HTTP__LISTEN", "127.0.0.1:0"),
        ("DETOUR__STORE__URL", store.as_str()),
        ("DETOUR__SAGA__COEXISTENCE_DOMAIN", WORLD_DOMAIN),
        ("DETOUR__SAGA__PARKING_OU", parking.as_str()),
        ("DETOUR__SAGA__TEMPORARY_SKU", sku.as_str()),
        ("DETOUR__SAGA__MAX_DESCOPED", "499"),
    ];
    let settings: CoordinatorSettings = load_config(
        saga_coordinator::DEFAULT_PORT,
        Sources::from_pairs(String::new(), pairs),
    )
    .unwrap();
    let world = InstantWorld::start(settings.amqp.clone()).await.unwrap();
    let spec = saga_coordinator::spec(&settings).unwrap();
    let app = App::new(spec, settings.base()).start().await.unwrap();
    let api = format!("http://{}/api/v1", app.ops_addr);
    let client = reqwest::Client::new();
    eventually(
        Duration::from_secs(20),
        "the coordinator to consume",
        || async {
            let ready = client
                .get(format!("http://{}/readyz", app.ops_addr))
                .send()
                .await
                .ok()?;
            ready.status().is_success().then_some(())
        },
    )
    .await;

    let started = Instant::now();
    let mut ids = Vec::with_capacity(sagas);
    for n in 0..sagas {
        let reply: Value = client
            .post(format!("{api}/sagas"))
            .json(&json!({ "user": format!("user{n}@bench.example") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(reply["saga_id"].as_str().unwrap().to_owned());
    }
    let list = format!("{api}/sagas?status=completed&limit=1000");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done: Value = client
            .get(&list)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done["sagas"].as_array().unwrap().len() == sagas {
            break;
        }
        if Instant::now() > deadline {
            for id in &ids {
                let view: SagaView = client
                    .get(format!("{api}/sagas/{id}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if view.status != "completed" {
                    for entry in &view.timeline {
                        eprintln!("{} {}", entry.kind, entry.detail);
                    }
                    panic!("saga {id} is {} after 300 s", view.status);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();

    let mut transitions = 0;
    for id in &ids {
        let view: SagaView = client
            .get(format!("{api}/sagas/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        transitions += view.timeline.iter().filter(|e| e.kind == "input").count();
    }
    println!(
        "{backend:<10} {sagas:>6} {transitions:>12} {:>9.2} {:>14.0} {:>10}",
        elapsed.as_secs_f64(),
        transitions as f64 / elapsed.as_secs_f64(),
        world.commands()
    );
    world.stop();
    app.stop(Duration::from_secs(5)).await;
}
