//! The user cloud-managed rung on the real stack: a Connect new enough for object-level source
//! of authority but not for cloud-managed mailboxes (2.5.76.0 to 2.5.190.0) gets its users
//! fixed with no deletion, handed to the cloud and back to AD under one lease on the tenant's
//! takeover block, which is set again afterwards whatever happened; under each unconfirmed
//! behaviour the user ends fixed or as it was.

use std::time::Duration;

use detour_contracts::Service;
use detour_system::{
    bulk::{Operator, SETTLED},
    fleet::{Fleet, build_debug_binaries},
};
use detour_testkit::{TestSqlite, TestVhost, eventually};
use saga_coordinator::saga::Strategy;
use serde_json::{Value, json};
use tenant_sim::fixture::TenantFixture;

use crate::coordinator::{Detour, timeline};

/// Between the two gates, with the takeover block on (as 2026's security guidance says).
fn object_soa_only(scenario: &mut Value) {
    scenario["connect"]["version"] = json!("2.5.79.0");
    scenario["features"]["block_cloud_object_takeover_through_hard_match_enabled"] = json!(true);
}

/// The user as tenant-sim holds it.
async fn world_user(tenant: &TenantFixture, name: &str) -> Value {
    let users = detour_system::bulk::cloud_users(tenant).await.unwrap();
    let found = users
        .get(&tenant.upn(name).to_ascii_lowercase())
        .unwrap_or_else(|| panic!("{name} is not in the cloud"));
    assert_eq!(found.len(), 1, "{name} is doubled: {found:?}");
    found[0].clone()
}

fn holds(user: &Value, address: &str) -> bool {
    user["cloud_addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|a| a.eq_ignore_ascii_case(address))
}

fn routing(tenant: &TenantFixture, name: &str) -> String {
    format!("smtp:{}@contoso.mail.onmicrosoft.com", tenant.sam(name))
}

/// Every user handed over once and taken back once, none deleted; the block set again.
async fn back_as_ad_users_with_the_block_restored(tenant: &TenantFixture, names: &[&str]) {
    let effects = detour_system::bulk::effects(tenant).await.unwrap();
    for name in names {
        let user = world_user(tenant, name).await;
        assert_eq!(user["on_premises_sync_enabled"], true, "{name}: {user}");
        assert_eq!(user["cloud_managed"], false, "{name}: {user}");
        let effect = &effects[user["id"].as_str().unwrap()];
        assert_eq!(effect["soft_deleted"], 0, "{name}: {effect}");
        assert_eq!(effect["made_cloud_managed"], 1, "{name}: {effect}");
        assert_eq!(effect["taken_back_by_ad"], 1, "{name}: {effect}");
    }
    block_becomes(tenant, true).await;
}

/// The tenant's takeover block reaches `set`: the last release leaves the restore to the
/// lease, which writes it a moment after the saga has moved on.
async fn block_becomes(tenant: &TenantFixture, set: bool) {
    eventually(
        Duration::from_secs(30),
        "the takeover block as it was",
        || async {
            (detour_system::bulk::takeover_blocked(tenant).await.ok()? == set).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_made_cloud_managed_for_the_change_come_back_to_ad_fixed_under_one_lease() {
    let names = ["ada", "cyd", "dee"];
    let tenant = TenantFixture::start("soa-fix", &names, object_soa_only).await;
    let detour = Detour::start(&tenant, "soa-fix", &[]).await;
    let mut sagas = Vec::new();
    for name in names {
        sagas.push(detour.start_saga(&tenant.upn(name), false).await);
    }
    for (saga, name) in sagas.iter().zip(names) {
        let done = detour.settled(saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, "completed", "{name}: {story}");
        assert_eq!(done.saga.phase.strategy(), Some(Strategy::UserCloudManaged));
        assert!(story.contains("HoldTakeoverLease done"), "{story}");
        assert!(holds(
            &world_user(&tenant, name).await,
            &routing(&tenant, name)
        ));
    }
    back_as_ad_users_with_the_block_restored(&tenant, &names).await;
    // The operator sees the lease at rest: closed, nobody holding it, nothing in flight.
    let lease = eventually(Duration::from_secs(30), "the lease closed", || async {
        let url = format!("{}/takeover-lease", detour.api);
        let body: Value = detour
            .client
            .get(url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (body["lease"]["window"]["window"] == "closed").then_some(body)
    })
    .await;
    assert_eq!(lease["lease"]["holders"], json!([]), "{lease}");
    assert_eq!(lease["lease"]["pending"], Value::Null, "{lease}");
    assert!(
        lease["version"].as_i64().unwrap() >= 2,
        "the lease moved: {lease}"
    );
    detour.bus.stop().await;
}

/// Where the address does not survive AD taking the user back (unconfirmed), the check after
/// the rollback fails: the user is back as it was, synced, the block set again; with the
/// round trip allowed after it (no takeover block), that fixes the user instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_lost_in_the_rollback_leaves_the_user_as_it_was_or_falls_back() {
    for (name, block, expected) in [
        ("soa-lost", true, "compensated"),
        ("soa-lost-fallback", false, "completed"),
    ] {
        let tenant = TenantFixture::start(name, &["ada"], |scenario| {
            object_soa_only(scenario);
            scenario["features"]["block_cloud_object_takeover_through_hard_match_enabled"] =
                json!(block);
            scenario["switches"]["cloud_address_survives_return_to_ad"] = json!(false);
        })
        .await;
        let detour = Detour::start(&tenant, name, &[("DETOUR__SAGA__WAIT_DEADLINE", "3s")]).await;
        let saga = detour.start_saga(&tenant.upn("ada"), false).await;
        let done = detour.settled(&saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, expected, "{name}: {story}");
        assert!(story.contains("the address is missing"), "{name}: {story}");
        let ada = world_user(&tenant, "ada").await;
        assert_eq!(ada["on_premises_sync_enabled"], true, "{name}: {ada}");
        assert_eq!(
            holds(&ada, &routing(&tenant, "ada")),
            expected == "completed",
            "{name}: {ada}"
        );
        if expected == "completed" {
            assert_eq!(done.saga.phase.strategy(), Some(Strategy::RoundTrip));
        }
        block_becomes(&tenant, block).await;
        detour.bus.stop().await;
    }
}

/// A deployment that leaves fixed users in the cloud never touches the takeover block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_may_leave_the_fixed_user_cloud_managed() {
    let tenant = TenantFixture::start("soa-stay", &["ada"], object_soa_only).await;
    let detour = Detour::start(
        &tenant,
        "soa-stay",
        &[("DETOUR__SAGA__RETURN_USER_TO_AD", "false")],
    )
    .await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "completed", "{story}");
    assert!(story.contains("VerifyCloudManaged done"), "{story}");
    assert!(!story.contains("takeover lease"), "{story}");
    let ada = world_user(&tenant, "ada").await;
    assert_eq!(ada["cloud_managed"], true, "{ada}");
    assert!(holds(&ada, &routing(&tenant, "ada")));
    detour.bus.stop().await;
}

/// A hand-back Graph refuses fails the step; undoing it hands the user back all the same,
/// under the lease, and the block is set again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_block_was_lifted_still_sets_it_again() {
    let tenant = TenantFixture::start("soa-fail", &["ada"], object_soa_only).await;
    let detour = Detour::start(&tenant, "soa-fail", &[]).await;
    // The hand-over's PATCH goes through; the hand-back's is refused once.
    tenant
        .add_fault(
            json!({ "api": "graph", "path_contains": "/onPremisesSyncBehavior",
            "method": "PATCH", "kind": "server-error", "status": 400, "count": 1, "skip": 1 }),
        )
        .await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "compensated", "{story}");
    assert!(story.contains("HandBackToAd"), "{story}");
    back_as_ad_users_with_the_block_restored(&tenant, &["ada"]).await;
    detour.bus.stop().await;
}

/// The coordinator SIGKILLed while the block is lifted (three users in the window, cycles
/// slow enough to hold it open): started again, it finishes every rollback from its store and
/// the block is set again; nobody is left cloud-managed, deleted or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_killed_while_the_block_is_lifted_sets_it_again_after_restart() {
    let names = ["ada", "cyd", "dee"];
    let tenant = TenantFixture::start("soa-kill", &names, |scenario| {
        object_soa_only(scenario);
        scenario["delays"]["cycle_seconds"] = json!(2.0);
    })
    .await;
    let services: Vec<Service> = Service::ALL
        .into_iter()
        .filter(|s| *s != Service::TicketGateway)
        .collect();
    let bin_dir = build_debug_binaries(&services, &std::env::current_exe().unwrap()).unwrap();
    let vhost = TestVhost::create("soa-kill").await.unwrap();
    let store = TestSqlite::create("soa-kill").unwrap();
    let store_path = store.url.trim_start_matches("sqlite://").to_owned();
    let mut launches =
        detour_system::bulk::launches(&tenant, &vhost, store_path.as_ref(), 10).unwrap();
    for launch in &mut launches {
        launch.port = detour_testkit::free_port();
    }
    let coordinator = launches
        .iter()
        .find(|l| l.service == Service::SagaCoordinator)
        .unwrap()
        .port;
    let logs = std::env::temp_dir().join(format!("detour-soa-kill-{}", vhost.name));
    let mut fleet = Fleet::start(&bin_dir, &launches, &logs).unwrap();
    fleet
        .wait_ready(Duration::from_secs(60), |_, _| {})
        .await
        .unwrap();
    let operator = Operator {
        client: reqwest::Client::new(),
        api: format!("http://127.0.0.1:{coordinator}/api/v1"),
    };
    for name in names {
        operator.start(&tenant.upn(name)).await.unwrap();
    }
    eventually(Duration::from_secs(60), "the block lifted", || async {
        (!detour_system::bulk::takeover_blocked(&tenant)
            .await
            .unwrap())
        .then_some(())
    })
    .await;
    fleet
        .kill_and_restart(Service::SagaCoordinator)
        .await
        .unwrap();
    fleet
        .wait_ready(Duration::from_secs(60), |_, _| {})
        .await
        .unwrap();
    let counts = eventually(Duration::from_secs(120), "every saga settled", || async {
        let counts = operator.counts().await.ok()?;
        let settled: u64 = SETTLED.iter().filter_map(|s| counts.get(*s)).sum();
        (settled == names.len() as u64).then_some(counts)
    })
    .await;
    assert_eq!(
        counts.get("completed"),
        Some(&3),
        "{counts:?}; logs in {}",
        logs.display()
    );
    back_as_ad_users_with_the_block_restored(&tenant, &names).await;
    for name in names {
        assert!(holds(
            &world_user(&tenant, name).await,
            &routing(&tenant, name)
        ));
    }
    fleet.stop(Duration::from_secs(10)).await;
    let _ = std::fs::remove_dir_all(&logs);
}

/// The tenant blocks cloud-object takeover while a round trip's user is cloud-only (an admin
/// following 2026's guidance mid-saga): the return is refused, and undoing it goes through the
/// lease, which lifts the block for the re-match and sets it again. The user is never left
/// cloud-only or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_block_set_mid_round_trip_is_lifted_for_the_return_and_set_again() {
    let tenant = TenantFixture::start("soa-flip", &["ada"], |scenario| {
        scenario["delays"]["mailbox_reconnect_seconds"] = json!(3.0);
    })
    .await;
    let detour = Detour::start(&tenant, "soa-flip", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    eventually(Duration::from_secs(60), "the user restored", || async {
        timeline(&detour.show(&saga).await)
            .contains("Restore done")
            .then_some(())
    })
    .await;
    let (status, body) = tenant
        .graph(
            reqwest::Method::PATCH,
            &format!("/directory/onPremisesSynchronization/{}", tenant.tenant_id),
            Some(json!({ "features": {
                "blockCloudObjectTakeoverThroughHardMatchEnabled": true } })),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "compensated", "{story}");
    assert!(story.contains("hard match blocked"), "{story}");
    assert!(story.contains("HoldTakeoverLease"), "{story}");
    let ada = world_user(&tenant, "ada").await;
    assert_eq!(ada["on_premises_sync_enabled"], true, "{ada}");
    // The block the admin set is set again.
    block_becomes(&tenant, true).await;
    detour.bus.stop().await;
}
