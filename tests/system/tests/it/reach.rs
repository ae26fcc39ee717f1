//! Detour on the ways real tenants sync: the seed's round trip (out of scope, deleted,
//! restored, matched back) with sync-trigger holding no agent key at all, running every
//! cycle on the Connect server over a real OpenSSH server.

use tenant_sim::fixture::{SshConnectServer, TenantFixture};

use crate::{
    coordinator::{Detour, assert_fixed, cloud_user, timeline},
    procedure::step_services_reaching_connect,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_are_fixed_at_once_with_every_cycle_run_over_ssh() {
    let names = ["ada", "cyd", "eve"];
    let tenant = TenantFixture::start("reach-ssh", &names, |_| {}).await;
    let ssh = SshConnectServer::start(&tenant).await;
    let before_runs = tenant.runs().await.len();
    let steps = step_services_reaching_connect(&tenant, ssh.sync_trigger_env());
    let round_trip = [("DETOUR__SAGA__STRATEGIES", "round-trip")];
    let detour = Detour::start_services(&tenant, "reach-ssh", &round_trip, steps, Vec::new()).await;
    let mut sagas = Vec::new();
    for name in names {
        let upn = tenant.upn(name);
        let before = cloud_user(&tenant, &upn).await;
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
        assert_fixed(&tenant, &tenant.upn(name), &address, before).await;
    }
    let runs = tenant.runs().await.len() - before_runs;
    assert!(
        (2..=6).contains(&runs),
        "the three shared their cycles: {runs} runs"
    );
    detour.bus.stop().await;
}
