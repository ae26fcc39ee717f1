//! Detour on the ways real tenants sync: the seed's round trip (out of scope, deleted,
//! restored, matched back) with sync-trigger holding no agent key at all, running every
//! cycle on the Connect server over a real OpenSSH server, or on a Cloud Sync tenant, where
//! the deletion waits for the job's schedule and the user comes back on demand; and the
//! ladder's gentler rung on Cloud Sync, which deletes nothing.

use saga_coordinator::saga::Strategy;
use tenant_sim::fixture::{SshConnectServer, TenantFixture};

use crate::{
    coordinator::{Detour, assert_fixed, cloud_user, timeline},
    procedure::step_services_reaching_connect,
};

const NAMES: [&str; 3] = ["ada", "cyd", "eve"];

/// Runs the round trip for `NAMES` at once with sync-trigger on `connect`; each user is fixed.
async fn three_round_trips(tenant: &TenantFixture, prefix: &str, connect: Vec<(String, String)>) {
    let steps = step_services_reaching_connect(tenant, connect);
    let round_trip = [("DETOUR__SAGA__STRATEGIES", "round-trip")];
    let detour = Detour::start_services(tenant, prefix, &round_trip, steps, Vec::new()).await;
    let mut sagas = Vec::new();
    for name in NAMES {
        let upn = tenant.upn(name);
        let before = cloud_user(tenant, &upn).await;
        sagas.push((name, detour.start_saga(&upn, false).await, before));
    }
    for (name, saga, before) in &sagas {
        let done = detour.settled(saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, "completed", "{name}: {story}");
        assert!(
            story.contains("SyncOut done") && story.contains("SyncIn done"),
            "{story}"
        );
        let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam(name));
        assert_fixed(tenant, &tenant.upn(name), &address, before).await;
    }
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_are_fixed_at_once_with_every_cycle_run_over_ssh() {
    let tenant = TenantFixture::start("reach-ssh", &NAMES, |_| {}).await;
    let ssh = SshConnectServer::start(&tenant).await;
    let before_runs = tenant.runs().await.len();
    three_round_trips(&tenant, "reach-ssh", ssh.sync_trigger_env()).await;
    let runs = tenant.runs().await.len() - before_runs;
    assert!(
        (2..=6).contains(&runs),
        "the three shared their cycles: {runs} runs"
    );
}

/// A Cloud Sync tenant with scheduled runs every 2 s, and sync-trigger's settings for it.
async fn cloud_sync_tenant(prefix: &str) -> (TenantFixture, Vec<(String, String)>) {
    let tenant = TenantFixture::start(prefix, &NAMES, |s| TenantFixture::on_cloud_sync(s, 2)).await;
    let connect = tenant.cloud_sync_env();
    (tenant, connect)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cloud_sync_tenant_the_ladder_takes_the_cloud_managed_rung_with_no_deletion() {
    let (tenant, connect) = cloud_sync_tenant("reach-cs-ladder").await;
    let steps = step_services_reaching_connect(&tenant, connect);
    let detour = Detour::start_services(&tenant, "reach-cs-ladder", &[], steps, Vec::new()).await;
    let mut sagas = Vec::new();
    for name in NAMES {
        let upn = tenant.upn(name);
        let before = cloud_user(&tenant, &upn).await;
        sagas.push((name, detour.start_saga(&upn, false).await, before));
    }
    for (name, saga, before) in &sagas {
        let done = detour.settled(saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, "completed", "{name}: {story}");
        assert_eq!(
            done.saga.phase.strategy(),
            Some(Strategy::CloudManaged),
            "{story}"
        );
        let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam(name));
        assert_fixed(&tenant, &tenant.upn(name), &address, before).await;
    }
    let effects = detour_system::bulk::effects(&tenant).await.unwrap();
    for (user, effect) in effects {
        assert_eq!(effect["soft_deleted"], 0, "{user} was deleted: {effect}");
    }
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_are_fixed_at_once_on_a_cloud_sync_tenant() {
    let (tenant, connect) = cloud_sync_tenant("reach-cloud-sync").await;
    three_round_trips(&tenant, "reach-cloud-sync", connect).await;
    let on_demand = tenant.provisioned_on_demand().await;
    assert_eq!(
        on_demand.len(),
        3,
        "each came back on demand: {on_demand:?}"
    );
}
