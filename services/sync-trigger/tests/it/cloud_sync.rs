//! The Cloud Sync backend end to end over Graph's synchronization API: a user leaving scope
//! waits for the job's scheduled run, one coming back is provisioned on demand (a second user,
//! as Microsoft warns, when nobody restored the first), at the pace Graph allows; a stopped job
//! is a refusal, and the job's settings give the threshold.

use detour_contracts::{
    Dn,
    connect_agent::{ObjectOutcome, PolicyType, RunOutcome},
    sync_trigger::{
        ConnectStateRead, ReadConnectState, RequestSyncCycle, SyncCycleCompleted, SyncCycleRefused,
    },
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::Harness;

fn request(objects: &[(Uuid, String)]) -> RequestSyncCycle {
    RequestSyncCycle {
        objects: objects.iter().map(|(guid, _)| *guid).collect(),
        policy_type: PolicyType::Delta,
        since: time::OffsetDateTime::now_utc(),
        located_at: objects
            .iter()
            .map(|(guid, dn)| (*guid, dn.parse::<Dn>().unwrap()))
            .collect(),
    }
}

async fn world(harness: &Harness) -> Value {
    let tenant = &harness.tenant;
    tenant
        .client
        .get(tenant.url("/_sim/world"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_scope_waits_for_the_schedule_and_coming_back_unrestored_is_a_second_user() {
    let mut harness = Harness::start_on_cloud_sync("st-cs-seed", &["ada"], json!({}), 2).await;
    let tenant = &harness.tenant;
    let ada = tenant.guid("ada").await;
    tenant
        .move_user("ada", &tenant.staff(), &tenant.parked())
        .await;
    let parked = format!("CN=ada {},{}", tenant.tag, tenant.parked());
    let out = harness
        .service
        .send(request(&[(ada, parked)]))
        .await
        .decode::<SyncCycleCompleted>();
    let run = out.runs.last().unwrap();
    assert_eq!(run.outcome, RunOutcome::Success);
    let deleted = out
        .outcomes_for(ada)
        .any(|o| o.outcome == ObjectOutcome::Deleted);
    assert!(
        deleted,
        "the scheduled run deleted her, as the log says: {out:?}"
    );
    assert_eq!(
        world(&harness).await["connect"]["cloud_sync"]["on_demand"],
        json!([])
    );

    let tenant = &harness.tenant;
    tenant
        .move_user("ada", &tenant.parked(), &tenant.staff())
        .await;
    let home = format!("CN=ada {},{}", tenant.tag, tenant.staff());
    let back = harness
        .service
        .send(request(&[(ada, home)]))
        .await
        .decode::<SyncCycleCompleted>();
    assert_eq!(back.runs.len(), 1, "one on-demand run");
    let object = &back.runs[0].objects[0];
    assert_eq!(
        object.outcome,
        ObjectOutcome::Added,
        "on demand, a soft-deleted user is not restored: {object:?}"
    );
    let on_demand = world(&harness).await["connect"]["cloud_sync"]["on_demand"].clone();
    assert_eq!(on_demand.as_array().unwrap().len(), 1, "{on_demand}");
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
    let traffic: Value = harness
        .tenant
        .client
        .get(harness.tenant.url("/_sim/traffic"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
