//! The diagnosis budget: a burst of requests diagnoses `max_diagnosing` at a time, the rest
//! wait as `requested` with nothing sent, and every one of them still ends completed.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::time::Duration;

use detour_testkit::eventually;
use serde_json::Value;
use support::{Backend, Bench};

const SAGAS: usize = 30;
const MAX_DIAGNOSING: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_diagnoses_a_few_at_a_time_and_all_complete() {
    let bench = Bench::new("budgets", Backend::Sqlite).await;
    let app = bench
        .coordinator(&[
            ("DETOUR__SAGA__MAX_DIAGNOSING", "3"),
            ("DETOUR__SAGA__POLL_EVERY_MS", "50"),
            ("DETOUR__SAGA__TIMER_TICK_MS", "20"),
        ])
        .await;
    let api = format!("http://{}/api/v1", app.ops_addr);
    let client = reqwest::Client::new();
    // Nothing is answered yet: whatever diagnoses holds its slot.
    bench.world.hold();
    let starts = (0..SAGAS).map(|n| {
        let (client, api) = (client.clone(), api.clone());
        async move { support::start_saga(&client, &api, &format!("burst{n}@bench.example")).await }
    });
    futures_util::future::join_all(starts).await;

    let counts = format!("{api}/counts");
    let count = |counts: &Value, status: &str| counts[status].as_u64().unwrap_or(0);
    let seen: Value = eventually(
        Duration::from_secs(10),
        "the burst to be taken in",
        || async {
            let seen: Value = client.get(&counts).send().await.ok()?.json().await.ok()?;
            (count(&seen, "diagnosing") + count(&seen, "requested") == SAGAS as u64).then_some(seen)
        },
    )
    .await;
    assert_eq!(count(&seen, "diagnosing"), MAX_DIAGNOSING, "{seen}");
    assert_eq!(
        count(&seen, "requested"),
        SAGAS as u64 - MAX_DIAGNOSING,
        "{seen}"
    );

    bench.world.release();
    support::all_completed(&client, &api, SAGAS, Duration::from_secs(90)).await;
    for n in 0..SAGAS {
        let user = format!("burst{n}@bench.example");
        support::assert_each_effect_once(&bench.world.effects(&user), &user);
    }
    app.stop(Duration::from_secs(5)).await;
    bench.world.stop();
}
