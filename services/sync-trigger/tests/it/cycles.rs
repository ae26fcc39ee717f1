//! Coalescing, the next cycle for late requests, per-object outcomes, refusals, replicas.

use std::time::Duration;

use detour_contracts::{
    Envelope,
    connect_agent::{ObjectOutcome, PolicyType},
    sync_trigger::{
        ConnectStateRead, ReadConnectState, RequestSyncCycle, SyncCycleCompleted, SyncCycleRefused,
    },
};
use detour_testkit::eventually;
use serde_json::json;

use crate::support::Harness;

/// A request for a change made just now.
fn delta(objects: Vec<uuid::Uuid>) -> RequestSyncCycle {
    RequestSyncCycle {
        objects,
        policy_type: PolicyType::Delta,
        since: time::OffsetDateTime::now_utc(),
        located_at: Default::default(),
        provision_on_demand: false,
    }
}

fn newest_run(completed: &SyncCycleCompleted) -> uuid::Uuid {
    completed.runs.last().expect("at least one run").run_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_share_one_cycle() {
    let mut harness = Harness::start("st-coalesce", &["ada"], 1, |_| {}).await;
    let before = harness.tenant.runs().await.len();
    let answers = harness
        .service
        .send_all((0..20).map(|_| delta(Vec::new())).collect())
        .await;
    let completed: Vec<SyncCycleCompleted> = answers
        .iter()
        .map(|a| a.decode::<SyncCycleCompleted>())
        .collect();
    let run_id = newest_run(&completed[0]);
    assert!(
        completed
            .iter()
            .all(|c| c.runs.len() == 1 && newest_run(c) == run_id),
        "one cycle for all"
    );
    assert!(completed.iter().all(|c| c.requests_coalesced == 20));
    assert_eq!(
        harness.tenant.runs().await.len(),
        before + 1,
        "exactly one more run"
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_during_a_running_cycle_gets_the_next_one() {
    let mut harness = Harness::start("st-next", &["ada"], 1, |s| {
        s["delays"]["cycle_seconds"] = json!(1.5)
    })
    .await;
    let first = Envelope::new(delta(Vec::new()));
    harness.service.publish(&first).await;
    eventually(
        Duration::from_secs(10),
        "the first cycle to run",
        || async {
            (harness
                .tenant
                .agent(reqwest::Method::GET, "/scheduler", None)
                .await
                .1["syncCycleInProgress"]
                == true)
                .then_some(())
        },
    )
    .await;
    let second = Envelope::new(delta(Vec::new()));
    harness.service.publish(&second).await;
    let answers = harness
        .service
        .answers(&[first.message_id, second.message_id])
        .await;
    let (a, b) = (
        answers[0].decode::<SyncCycleCompleted>(),
        answers[1].decode::<SyncCycleCompleted>(),
    );
    assert_ne!(
        newest_run(&a),
        newest_run(&b),
        "the late request waited for the next cycle"
    );
    assert_eq!(b.runs.len(), 2, "both runs ended after its change: {b:?}");
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_requester_hears_about_its_own_objects_and_the_whole_run() {
    let mut harness = Harness::start("st-objects", &["ada", "bob"], 1, |_| {}).await;
    let (ada, bob) = (
        harness.tenant.guid("ada").await,
        harness.tenant.guid("bob").await,
    );
    harness.move_out("ada").await;
    harness.move_out("bob").await;
    let answers = harness
        .service
        .send_all(vec![delta(vec![ada]), delta(vec![bob])])
        .await;
    for (answer, guid) in answers.iter().zip([ada, bob]) {
        let completed = answer.decode::<SyncCycleCompleted>();
        let run = &completed.runs[0];
        assert_eq!(run.objects.len(), 1, "only its own object");
        assert_eq!(run.objects[0].object_guid, guid);
        assert_eq!(run.objects[0].outcome, ObjectOutcome::Deleted);
        assert_eq!(run.stats.deletes, 2, "and the run's totals");
    }
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_mode_is_a_refusal_with_its_reason() {
    let mut harness = Harness::start("st-staging", &["ada"], 1, |s| {
        s["connect"]["staging_mode"] = json!(true)
    })
    .await;
    let answers = harness.service.send_all(vec![delta(Vec::new())]).await;
    let refused = answers[0].decode::<SyncCycleRefused>();
    assert_eq!(refused.code, "staging-mode");
    let state =
        harness.service.send_all(vec![ReadConnectState {}]).await[0].decode::<ConnectStateRead>();
    assert!(state.scheduler.staging_mode_enabled);
    assert_eq!(state.connect_version, "2.4.18.0");
    assert_eq!(
        (state.deletion_threshold_enabled, state.deletion_threshold),
        (true, 500)
    );
    assert!(
        state
            .included_containers
            .iter()
            .any(|c| c.rdn().eq_ignore_ascii_case("OU=Staff")),
        "the connector's scope: {:?}",
        state.included_containers
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_run_two_cycles_at_once() {
    let mut harness = Harness::start("st-replicas", &["ada"], 2, |s| {
        s["delays"]["cycle_seconds"] = json!(0.3)
    })
    .await;
    let before = harness.tenant.runs().await.len();
    for _ in 0..3 {
        let answers = harness
            .service
            .send_all((0..5).map(|_| delta(Vec::new())).collect())
            .await;
        assert!(
            answers
                .iter()
                .all(|a| a.message_type == "sync-cycle-completed")
        );
    }
    let runs = harness.tenant.runs().await;
    let mut spans: Vec<(String, String)> = runs[..runs.len() - before]
        .iter()
        .map(|r| {
            (
                r["startDate"].as_str().unwrap().to_owned(),
                r["endDate"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "cycles overlapped: {pair:?}");
    }
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_saying_busy_delays_the_cycle_but_loses_no_request() {
    let mut harness = Harness::start("st-busy", &["ada"], 1, |_| {}).await;
    let busy = json!({ "api": "connect", "path_contains": "/sync-cycles", "method": "POST", "kind": "busy", "count": 3 });
    harness.tenant.add_fault(busy).await;
    let answers = harness
        .service
        .send_all((0..3).map(|_| delta(Vec::new())).collect())
        .await;
    let completed: Vec<SyncCycleCompleted> = answers
        .iter()
        .map(|a| a.decode::<SyncCycleCompleted>())
        .collect();
    assert!(
        completed
            .iter()
            .all(|c| newest_run(c) == newest_run(&completed[0])),
        "still one cycle, after the busy answers"
    );
    harness.service.stop().await;
}
