//! Saga transitions per second through the whole coordinator: its queue consumed, each answer
//! decided, stored (record, inbox, outbox, timers, log in one transaction) and the next
//! command published with a broker confirm, on SQLite and on PostgreSQL. The step services
//! are the instant world, so the coordinator sets the pace.
//!
//! With `--ticketed`, each saga comes from a ticket, so it also publishes its milestones as
//! progress events (to a queue bound here, as the ticket gateway's would be).
//!
//! `cargo bench -p saga-coordinator --bench transitions [-- --sagas N --backend sqlite|postgres
//! --ticketed]` (needs the dev stack: `deploy/dev-stack.sh up`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark")]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use detour_bus::{Binding, Subscription};
use detour_contracts::EVENTS_EXCHANGE;
use saga_coordinator::api::SagaView;
use serde_json::{Value, json};
use support::{Backend, Bench};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut sagas = 200usize;
    let mut backends = vec![Backend::Sqlite, Backend::Postgres];
    let mut ticketed = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sagas" => sagas = args.next().and_then(|n| n.parse().ok()).expect("--sagas N"),
            "--backend" => {
                backends = match args.next().as_deref() {
                    Some("postgres") => vec![Backend::Postgres],
                    Some("sqlite") => vec![Backend::Sqlite],
                    other => panic!("--backend sqlite|postgres, not {other:?}"),
                }
            }
            "--ticketed" => ticketed = true,
            _ => {} // cargo bench passes --bench
        }
    }
    println!(
        "{:<10} {:>6} {:>12} {:>9} {:>14} {:>10} {:>9}",
        "backend", "sagas", "transitions", "seconds", "transitions/s", "commands", "progress"
    );
    for backend in backends {
        run(backend, sagas, ticketed).await;
    }
}

async fn run(backend: Backend, sagas: usize, ticketed: bool) {
    let bench = Bench::new("bench", backend).await;
    let amqp = support::settings_from(&bench.env(&[])).amqp;
    let progress = Binding {
        exchange: EVENTS_EXCHANGE.to_owned(),
        pattern: "saga-coordinator.remediation-progress.v1".to_owned(),
    };
    let mut progress = Subscription::open(&amqp, "bench progress", &[progress])
        .await
        .unwrap();
    let app = bench
        .coordinator(&[("DETOUR__SAGA__MAX_DESCOPED", "499")])
        .await;
    let api = format!("http://{}/api/v1", app.ops_addr);
    let client = reqwest::Client::new();

    let started = Instant::now();
    let mut ids = Vec::with_capacity(sagas);
    for n in 0..sagas {
        let user = format!("user{n}@bench.example");
        let body = match ticketed {
            true => {
                json!({ "user": user, "ticket": { "system": "jira", "key": format!("BENCH-{n}") } })
            }
            false => json!({ "user": user }),
        };
        let reply: Value = client
            .post(format!("{api}/sagas"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(reply["saga_id"].as_str().unwrap().to_owned());
    }
    support::all_completed(&client, &api, sagas, Duration::from_secs(300)).await;
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
    let mut events = 0;
    while progress.next(Duration::from_millis(200)).await.is_some() {
        events += 1;
    }
    progress.close().await;
    println!(
        "{:<10} {sagas:>6} {transitions:>12} {:>9.2} {:>14.0} {:>10} {events:>9}",
        format!("{backend:?}").to_lowercase(),
        elapsed.as_secs_f64(),
        transitions as f64 / elapsed.as_secs_f64(),
        bench.world.commands()
    );
    bench.world.stop();
    app.stop(Duration::from_secs(5)).await;
}
