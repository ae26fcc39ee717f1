//! The Cloud Sync backend end to end over Graph's synchronization API: a user leaving scope
//! waits for the job's scheduled run; one coming back is provisioned on demand only when the
//! request says its cloud object is live (a soft-deleted one would be doubled, as Microsoft
//! warns, and waits for the schedule instead), at the pace Graph allows; a stopped job is a
//! refusal, and the job's settings give the threshold.

use detour_contracts::{
    Dn,
    connect_agent::{ObjectOutcome, RunOutcome},
    sync_trigger::{ConnectStateRead, ReadConnectState, SyncCycleCompleted, SyncCycleRefused},
};
use serde_json::{Value, json};

use crate::support::{Harness, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_scope_waits_for_the_schedule_and_only_the_schedule_brings_a_deleted_user_back() {
    let mut harness =
        Harness::start_on_cloud_sync("st-cs-seed", &["ada", "bob"], json!({}), 2).await;
    let tenant = &harness.tenant;
    let (ada, bob) = (tenant.guid("ada").await, tenant.guid("bob").await);
    let at = |name: &str, ou: String| format!("CN={name} {},{ou}", tenant.tag);
    tenant
        .move_user("ada", &tenant.staff(), &tenant.parked())
        .await;
    tenant
        .move_user("bob", &tenant.staff(), &tenant.parked())
        .await;
    let out = harness
        .service
        .send(request(&[
            (ada, at("ada", tenant.parked())),
            (bob, at("bob", tenant.parked())),
        ]))
        .await
        .decode::<SyncCycleCompleted>();
    assert_eq!(out.runs.last().unwrap().outcome, RunOutcome::Success);
    for guid in [ada, bob] {
        let deleted = out
            .outcomes_for(guid)
            .any(|o| o.outcome == ObjectOutcome::Deleted);
        assert!(
            deleted,
            "the scheduled run deleted both, as the log says: {out:?}"
        );
    }
    assert_eq!(
        harness.tenant.provisioned_on_demand().await,
        Vec::<Value>::new()
    );

    // Ada's cloud user is still soft-deleted: not on demand, the schedule restores her.
    let tenant = &harness.tenant;
    tenant
        .move_user("ada", &tenant.parked(), &tenant.staff())
        .await;
    let mut back = request(&[(ada, at("ada", tenant.staff()))]);
    back.provision_on_demand = false;
    let restored = harness
        .service
        .send(back)
        .await
        .decode::<SyncCycleCompleted>();
    let joined = restored.outcomes_for(ada).last().unwrap();
    let was = out.outcomes_for(ada).find_map(|o| o.cloud_object_id);
    assert_ne!(joined.outcome, ObjectOutcome::Added, "{joined:?}");
    assert_eq!(joined.cloud_object_id, was, "the same object: {joined:?}");
    assert_eq!(
        harness.tenant.provisioned_on_demand().await,
        Vec::<Value>::new()
    );

    // Bob asked on demand while soft-deleted: a second user, as Microsoft warns. The schedule
    // is held first, so no scheduled run restores him between his move and the request.
    let tenant = &harness.tenant;
    tenant.hold_schedule(true).await;
    tenant
        .move_user("bob", &tenant.parked(), &tenant.staff())
        .await;
    let doubled = harness
        .service
        .send(request(&[(bob, at("bob", tenant.staff()))]))
        .await
        .decode::<SyncCycleCompleted>();
    assert_eq!(doubled.runs.len(), 1, "one on-demand run");
    let object = &doubled.runs[0].objects[0];
    assert_eq!(object.outcome, ObjectOutcome::Added, "{object:?}");
    let on_demand = harness.tenant.provisioned_on_demand().await;
    assert_eq!(on_demand.len(), 1, "{on_demand:?}");
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_users_at_once_are_provisioned_within_graphs_limit() {
    let names = ["ada", "bob", "cyd", "dan", "eve", "fay"];
    let mut harness = Harness::start_on_cloud_sync("st-cs-pace", &names, json!({}), 0).await;
    let tenant = &harness.tenant;
    let mut located = Vec::new();
    for name in names {
        let dn = format!("CN={name} {},{}", tenant.tag, tenant.staff());
        located.push((tenant.guid(name).await, dn));
    }
    let answer = harness
        .service
        .send(request(&located))
        .await
        .decode::<SyncCycleCompleted>();
    let objects = &answer.runs[0].objects;
    assert_eq!(objects.len(), 6);
    assert!(
        objects.iter().all(|o| o.outcome == ObjectOutcome::Updated),
        "{objects:?}"
    );
    let traffic = harness.tenant.sim_read("/_sim/traffic").await.unwrap();
    assert_eq!(
        traffic["graph"]["throttled"], 0,
        "paced, never refused: {traffic}"
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_job_is_a_refusal_with_its_reason() {
    let mut harness = Harness::start_on_cloud_sync(
        "st-cs-quarantine",
        &["ada"],
        json!({ "quarantined": true }),
        2,
    )
    .await;
    let tenant = &harness.tenant;
    let ada = tenant.guid("ada").await;
    for dn in [tenant.parked(), tenant.staff()] {
        let at = format!("CN=ada {},{dn}", tenant.tag);
        let refused = harness
            .service
            .send(request(&[(ada, at)]))
            .await
            .decode::<SyncCycleRefused>();
        assert_eq!(refused.code, "job-quarantined");
        assert!(refused.reason.contains("quarantine"), "{}", refused.reason);
    }
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_state_reads_as_the_connect_state() {
    let mut harness = Harness::start_on_cloud_sync("st-cs-state", &["ada"], json!({}), 120).await;
    let state = harness
        .service
        .send(ReadConnectState {})
        .await
        .decode::<ConnectStateRead>();
    assert_eq!(state.connect_version, "cloud-sync");
    assert!(state.scheduler.sync_cycle_enabled);
    assert_eq!(
        state
            .scheduler
            .currently_effective_sync_cycle_interval_seconds,
        120
    );
    assert!(state.deletion_threshold_enabled);
    assert_eq!(state.deletion_threshold, 500);
    let staff: Dn = harness.tenant.staff().parse().unwrap();
    assert!(state.included_containers.iter().any(|c| c.same_as(&staff)));
    harness.service.stop().await;
}
