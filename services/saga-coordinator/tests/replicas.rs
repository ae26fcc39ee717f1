//! Two coordinator replicas on one PostgreSQL store and one queue: they share the work (each
//! answer goes to whichever is free, each timer may be seen by both), and every saga still
//! completes with each effect in the world done exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::time::Duration;

use support::{Backend, Bench};

const SAGAS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_share_sagas_and_never_repeat_an_effect() {
    let bench = Bench::new("replicas", Backend::Postgres).await;
    let settings = [
        ("DETOUR__SAGA__POLL_EVERY_MS", "50"),
        ("DETOUR__SAGA__TIMER_TICK_MS", "20"),
        // Few slots, so admission has a line to work through across replicas.
        ("DETOUR__SAGA__MAX_DESCOPED", "5"),
    ];
    let replicas = [
        bench.coordinator(&settings).await,
        bench.coordinator(&settings).await,
    ];
    let api = |n: usize| format!("http://{}/api/v1", replicas[n % 2].ops_addr);
    let client = reqwest::Client::new();
    let users: Vec<String> = (0..SAGAS)
        .map(|n| format!("replica{n}@bench.example"))
        .collect();
    // Requests go to either replica, alternately; the first user is asked for twice at once,
    // once per replica, and the second request joins the first saga.
    for (n, user) in [&users[0]].into_iter().chain(&users).enumerate() {
        support::start_saga(&client, &api(n), user).await;
    }
    support::all_completed(&client, &api(1), SAGAS, Duration::from_secs(120)).await;
    let most = bench.world.most_parked();
    assert!(
        (1..=5).contains(&most),
        "at most max_descoped (5) users out of scope at once across both replicas, saw {most}"
    );
    for user in &users {
        support::assert_each_effect_once(&bench.world.effects(user), user);
    }
    for app in replicas {
        app.stop(Duration::from_secs(5)).await;
    }
    bench.world.stop();
}
