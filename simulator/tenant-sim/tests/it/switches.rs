//! Each disputed behaviour (domain.md section 5) is a switch; Detour must cope with either
//! setting, so each is checked both ways here. Also: replication lag, scheduled cycles and the
//! 30-day retention of deleted users.

use std::time::Duration;

use detour_testkit::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{E3, Harness};

/// Takes `name` out of scope, syncs, restores it through Graph; returns the restored user.
async fn descope_and_restore(sim: &Harness, name: &str) -> (String, Value) {
    let (_, user) = sim
        .graph(
            Method::GET,
            &format!("/users/{}?$select=id", sim.upn(name)),
            None,
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    sim.move_user(name, &sim.staff(), &sim.parked()).await;
    sim.sync().await;
    let (status, _) = sim
        .graph(
            Method::POST,
            &format!("/directory/deletedItems/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let select = "$select=onPremisesSyncEnabled,onPremisesImmutableId,licenseAssignmentStates,proxyAddresses";
    let (_, restored) = sim
        .graph(Method::GET, &format!("/users/{id}?{select}"), None)
        .await;
    (id, restored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_user_sync_state_both_ways() {
    let cloud_only = Harness::start("restored-cloud", &["ada"], |_| {}).await;
    let (_, user) = descope_and_restore(&cloud_only, "ada").await;
    assert_eq!(user["onPremisesSyncEnabled"], false);
    assert!(user["onPremisesImmutableId"].is_string(), "kept by default");

    let still_synced = Harness::start("restored-synced", &["ada"], |s| {
        s["switches"] = json!({ "restored_user_stays_synced": true, "restored_user_keeps_immutable_id": false });
    })
    .await;
    let (_, user) = descope_and_restore(&still_synced, "ada").await;
    assert_eq!(user["onPremisesSyncEnabled"], true);
    assert!(user["onPremisesImmutableId"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_membership_on_delete_both_ways() {
    let drops = Harness::start("group-drops", &["ada"], |_| {}).await;
    let (_, user) = descope_and_restore(&drops, "ada").await;
    assert_eq!(user["licenseAssignmentStates"], json!([]));

    let kept = Harness::start("group-kept", &["ada"], |s| {
        s["switches"] = json!({ "synced_group_membership_drops_on_delete": false });
    })
    .await;
    let (_, user) = descope_and_restore(&kept, "ada").await;
    let states = user["licenseAssignmentStates"].as_array().unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["skuId"], E3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coexistence_address_from_ad_both_ways() {
    for (syncs, prefix) in [(false, "coex-no"), (true, "coex-yes")] {
        let sim = Harness::start(prefix, &["ada"], |s| {
            Harness::without_ad_routing_address(s);
            s["switches"] = json!({ "coexistence_domain_syncs_from_ad": syncs })
        })
        .await;
        let address = format!("smtp:{}@contoso.mail.onmicrosoft.com", sim.sam("ada"));
        sim.add_ad_proxy("ada", &address).await;
        sim.sync().await;
        let (_, user) = sim
            .graph(
                Method::GET,
                &format!("/users/{}?$select=proxyAddresses", sim.upn("ada")),
                None,
            )
            .await;
        let present = user["proxyAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(&address));
        assert_eq!(present, syncs, "switch {syncs}: {user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_right_after_a_write_are_stale_for_the_lag() {
    let sim = Harness::start("lag", &["ada"], |s| {
        s["delays"]["replication_lag_seconds"] = json!(0.5)
    })
    .await;
    let (_, user) = sim
        .graph(
            Method::GET,
            &format!("/users/{}?$select=id", sim.upn("ada")),
            None,
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (status, _) = sim
        .graph(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({ "usageLocation": "FR" })),
        )
        .await;
    assert_eq!(status, 204);
    let read = || async {
        sim.graph(
            Method::GET,
            &format!("/users/{id}?$select=usageLocation"),
            None,
        )
        .await
        .1["usageLocation"]
            .clone()
    };
    assert_eq!(
        read().await,
        Value::Null,
        "the write has not replicated yet"
    );
    eventually(Duration::from_secs(5), "the write to replicate", || async {
        (read().await == json!("FR")).then_some(())
    })
    .await;

    let (_, _) = descope_and_restore(&sim, "ada").await;
    let (status, _) = sim.graph(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(status, 404, "a restored user is not found right away");
    eventually(
        Duration::from_secs(5),
        "the restore to replicate",
        || async {
            (sim.graph(Method::GET, &format!("/users/{id}"), None)
                .await
                .0
                == 200)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_cycles_pick_up_a_move_without_a_request() {
    let sim = Harness::start("scheduled", &["ada"], |s| {
        s["connect"]["interval_seconds"] = json!(60)
    })
    .await;
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    sim.advance_clock(61).await;
    eventually(
        Duration::from_secs(10),
        "a scheduled cycle to delete the user",
        || async {
            let (_, deleted) = sim
                .graph(
                    Method::GET,
                    "/directory/deletedItems/microsoft.graph.user",
                    None,
                )
                .await;
            (deleted["value"].as_array().map(Vec::len) == Some(1)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_schedule_starts_no_cycle_until_it_is_let_go() {
    let sim = Harness::start("held", &["ada"], |s| {
        s["connect"]["interval_seconds"] = json!(60)
    })
    .await;
    let before = sim.runs().await.len();
    sim.hold_schedule(true).await;
    sim.advance_clock(61).await;
    // Ten of the scheduler's ticks, each past the due time.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.runs().await.len(), before, "a held schedule ran");
    sim.hold_schedule(false).await;
    eventually(Duration::from_secs(10), "the scheduled cycle", || async {
        (sim.runs().await.len() > before).then_some(())
    })
    .await;

    let refused = reqwest::Client::new()
        .put(sim.url("/_sim/schedule"))
        .json(&json!({ "hold": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "an unknown field is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_users_are_gone_for_good_after_thirty_days() {
    let sim = Harness::start("retention", &["ada"], |s| {
        s["delays"]["token_lifetime_seconds"] = json!(100_000_000)
    })
    .await;
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    sim.sync().await;
    let (_, deleted) = sim
        .graph(
            Method::GET,
            "/directory/deletedItems/microsoft.graph.user",
            None,
        )
        .await;
    let id = deleted["value"][0]["id"].as_str().unwrap().to_owned();
    sim.advance_clock(30 * 86_400).await;
    let (status, _) = sim
        .graph(
            Method::POST,
            &format!("/directory/deletedItems/{id}/restore"),
            None,
        )
        .await;
    assert_eq!(status, 404, "permanent deletion cannot be undone");
}
