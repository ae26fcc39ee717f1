//! The coordinator on the real stack: RabbitMQ, Samba AD, tenant-sim and the four step
//! services, driven only through the operator API, as an operator (or `detourctl`) would.

use std::time::Duration;

use detour_testkit::{Build, ServiceHarness, TestSqlite, eventually};
use saga_coordinator::{CoordinatorSettings, api::SagaView};
use serde_json::{Value, json};
use tenant_sim::fixture::{E3, TenantFixture};

use crate::procedure::{service, step_services};

/// Detour without the ticket gateway: the step services and a coordinator with a store of
/// its own and waits scaled down to the simulator's pace.
pub(crate) struct Detour {
    pub(crate) bus: ServiceHarness,
    pub(crate) api: String,
    pub(crate) client: reqwest::Client,
    pub(crate) store: TestSqlite,
}

impl Detour {
    pub(crate) async fn start(
        tenant: &TenantFixture,
        prefix: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start_with(tenant, prefix, extra, Vec::new()).await
    }

    /// The coordinator (with `extra` settings) and the step services, then `more` services
    /// (their ops addresses follow the coordinator's).
    pub(crate) async fn start_with(
        tenant: &TenantFixture,
        prefix: &str,
        extra: &[(&str, &str)],
        more: Vec<Build>,
    ) -> Self {
        Self::start_services(tenant, prefix, extra, step_services(tenant), more).await
    }

    /// The coordinator (with `extra` settings) after the `steps` services, then `more`.
    pub(crate) async fn start_services(
        tenant: &TenantFixture,
        prefix: &str,
        extra: &[(&str, &str)],
        steps: Vec<Build>,
        more: Vec<Build>,
    ) -> Self {
        let store = TestSqlite::create(prefix).unwrap();
        let mut coordinator: Vec<(String, String)> = [
            ("DETOUR__STORE__URL", store.url.as_str()),
            (
                "DETOUR__SAGA__COEXISTENCE_DOMAIN",
                "contoso.mail.onmicrosoft.com",
            ),
            ("DETOUR__SAGA__PARKING_OU", &tenant.parked()),
            ("DETOUR__SAGA__TEMPORARY_SKU", E3),
            ("DETOUR__SAGA__DEFAULT_USAGE_LOCATION", "PL"),
            ("DETOUR__SAGA__ACTION_DEADLINE_MS", "20000"),
            ("DETOUR__SAGA__POLL_EVERY_MS", "200"),
            ("DETOUR__SAGA__WAIT_DEADLINE_MS", "20000"),
            ("DETOUR__SAGA__COMPENSATION_BACKOFF_MS", "200"),
            ("DETOUR__SAGA__TIMER_TICK_MS", "50"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (key, value) in extra {
            coordinator.retain(|(k, _)| k != key);
            coordinator.push(((*key).to_owned(), (*value).to_owned()));
        }
        let coordinator_index = steps.len();
        let mut builds = steps;
        builds.push(service::<CoordinatorSettings>(
            saga_coordinator::DEFAULT_PORT,
            saga_coordinator::spec,
            coordinator,
        ));
        builds.extend(more);
        let bus = ServiceHarness::start_many(prefix, "saga-coordinator.#", Vec::new(), builds)
            .await
            .unwrap();
        Self {
            api: format!("http://{}/api/v1", bus.ops_addr(coordinator_index)),
            bus,
            client: reqwest::Client::new(),
            store,
        }
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.api))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn start_saga(&self, user: &str, dry_run: bool) -> String {
        let body = json!({
            "user": user,
            "dry_run": dry_run,
            "ticket": { "system": "jira", "key": "HELP-7" },
        });
        let (status, reply) = self.post("/sagas", body).await;
        assert_eq!(status, 201, "{reply}");
        reply["saga_id"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn show(&self, saga_id: &str) -> SagaView {
        self.client
            .get(format!("{}/sagas/{saga_id}", self.api))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until the saga needs nothing more from the world, and returns it.
    pub(crate) async fn settled(&self, saga_id: &str) -> SagaView {
        eventually(Duration::from_secs(90), "the saga to settle", || async {
            let view = self.show(saga_id).await;
            view.saga.phase.is_settled().then_some(view)
        })
        .await
    }
}

pub(crate) fn timeline(view: &SagaView) -> String {
    view.timeline
        .iter()
        .map(|e| format!("{} {}", e.kind, e.detail))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The user as Graph shows it, straight from the tenant.
pub(crate) async fn cloud_user(tenant: &TenantFixture, upn: &str) -> Value {
    let (status, user) = graph_user(tenant, upn).await;
    assert_eq!(status, 200, "{user}");
    user
}

/// Graph's answer for the user, whatever it is: a user with no cloud object is a 404 (and
/// `null`, since the error's request ids differ every time).
pub(crate) async fn graph_user(tenant: &TenantFixture, upn: &str) -> (u16, Value) {
    let select =
        "id,onPremisesSyncEnabled,onPremisesImmutableId,proxyAddresses,licenseAssignmentStates";
    let (status, user) = tenant
        .graph(
            reqwest::Method::GET,
            &format!("/users/{upn}?$select={select}"),
            None,
        )
        .await;
    (status, if status == 404 { Value::Null } else { user })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_user_is_fixed_end_to_end_through_the_operator_api() {
    let tenant = TenantFixture::start("saga-seed", &["ada", "bob"], |_| {}).await;
    let detour = Detour::start(&tenant, "saga-seed", &[]).await;
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(&tenant, &ada).await;

    // A dry run reports the plan and changes nothing.
    let dry = detour.start_saga(&ada, true).await;
    let planned = detour.settled(&dry).await;
    assert_eq!(planned.status, "planned", "{}", timeline(&planned));
    assert_eq!(cloud_user(&tenant, &ada).await, before);

    // Bob already has the address: nothing to do.
    let bob = detour.start_saga(&tenant.upn("bob"), false).await;
    assert_eq!(detour.settled(&bob).await.status, "nothing-to-do");

    // The real thing; a second request for her while it runs joins it.
    let saga = detour.start_saga(&ada, false).await;
    let (status, joined) = detour
        .post("/sagas", json!({ "user": ada.to_uppercase() }))
        .await;
    assert_eq!(
        (status, joined["saga_id"].as_str()),
        (200, Some(saga.as_str()))
    );
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "completed", "{story}");
    assert!(story.contains("another request joined"), "{story}");
    for step in [
        "Snapshot",
        "Descope",
        "SyncOut",
        "AwaitSoftDelete",
        "Restore",
        "EnsureLicense",
        "AwaitMailbox",
        "AddAddress",
        "Rescope",
        "SyncIn",
        "AwaitRematch",
        "DropTemporaryLicense",
        "Verify",
    ] {
        assert!(
            story.contains(&format!("{step} done")),
            "{step} missing from:\n{story}"
        );
    }

    // Fixed: the address, synced, the same object and anchor, the group licence only.
    assert_fixed(&tenant, &ada, &address, &before).await;

    // Listed, findable by user and ticket.
    let list: Value = detour
        .client
        .get(format!("{}/sagas?user={ada}&status=completed", detour.api))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["sagas"].as_array().unwrap().len(), 1, "{list}");
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_approvals_nothing_changes_until_the_plan_awaited_is_approved() {
    let tenant = TenantFixture::start("saga-approval", &["ada"], |_| {}).await;
    let detour = Detour::start(
        &tenant,
        "saga-approval",
        &[("DETOUR__SAGA__APPROVAL_REQUIRED", "true")],
    )
    .await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    let saga = detour.start_saga(&ada, false).await;
    let held = detour.settled_or_held(&saga).await;
    assert_eq!(held.status, "awaiting-approval", "{}", timeline(&held));
    let plan_hash = held.plan_hash.clone().unwrap();
    assert_eq!(
        cloud_user(&tenant, &ada).await,
        before,
        "nothing changed yet"
    );

    let (status, refused) = detour
        .post(
            &format!("/sagas/{saga}/approve"),
            json!({ "plan_hash": "0000000000000000" }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains(&plan_hash.to_string())
    );

    let (status, _) = detour
        .post(
            &format!("/sagas/{saga}/approve"),
            json!({ "plan_hash": plan_hash }),
        )
        .await;
    assert_eq!(status, 202);
    let done = detour.settled(&saga).await;
    assert_eq!(done.status, "completed", "{}", timeline(&done));
    detour.bus.stop().await;
}

impl Detour {
    /// Waits until the saga has settled or is held for an approval.
    async fn settled_or_held(&self, saga_id: &str) -> SagaView {
        eventually(
            Duration::from_secs(60),
            "the saga to settle or wait",
            || async {
                let view = self.show(saga_id).await;
                (view.saga.phase.is_settled() || view.status == "awaiting-approval").then_some(view)
            },
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_that_keeps_failing_is_compensated_and_the_user_is_back_as_before() {
    let tenant = TenantFixture::start("saga-undo", &["ada"], |_| {}).await;
    let detour = Detour::start(
        &tenant,
        "saga-undo",
        &[("DETOUR__SAGA__ACTION_DEADLINE_MS", "4000")],
    )
    .await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    fail_every_restore(&tenant).await;

    let saga = detour.start_saga(&ada, false).await;
    let undone = detour.settled(&saga).await;
    let story = timeline(&undone);
    assert_eq!(undone.status, "compensated", "{story}");
    assert!(
        story.contains("Restore did not finish before its deadline"),
        "{story}"
    );
    for compensation in ["MoveBack", "SyncBack", "VerifyRestored"] {
        assert!(
            story.contains(compensation),
            "{compensation} missing from:\n{story}"
        );
    }
    back_as_before(&tenant, &ada, &before, &story).await;
    detour.bus.stop().await;
}

/// Graph answers every restore with a 503, for good: the round trip must be undone.
pub(crate) async fn fail_every_restore(tenant: &TenantFixture) {
    tenant
        .add_fault(json!({
            "api": "graph", "path_contains": "/restore", "method": "POST",
            "kind": "server-error", "status": 503,
        }))
        .await;
}

/// The user is fixed: `address` present, synced, the same object and anchor as `before`, the
/// group licence only.
pub(crate) async fn assert_fixed(tenant: &TenantFixture, upn: &str, address: &str, before: &Value) {
    let after = cloud_user(tenant, upn).await;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["onPremisesSyncEnabled"], true);
    assert_eq!(
        after["onPremisesImmutableId"],
        before["onPremisesImmutableId"]
    );
    let addresses = after["proxyAddresses"].as_array().unwrap();
    assert!(
        addresses.iter().any(|a| a
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&format!("smtp:{address}"))),
        "{addresses:?}"
    );
    let licences = after["licenseAssignmentStates"].as_array().unwrap();
    assert_eq!(licences.len(), 1, "{licences:?}");
    assert!(!licences[0]["assignedByGroup"].is_null(), "{licences:?}");
}

/// The user is back where it started: the same object, synced, the same anchor and licences.
pub(crate) async fn back_as_before(tenant: &TenantFixture, upn: &str, before: &Value, story: &str) {
    let after = cloud_user(tenant, upn).await;
    for field in [
        "id",
        "onPremisesSyncEnabled",
        "onPremisesImmutableId",
        "licenseAssignmentStates",
    ] {
        assert_eq!(after[field], before[field], "{field}: {story}");
    }
}

/// The refusal a settled saga ended with, e.g. `admin-role`.
pub(crate) fn refusal(view: &SagaView) -> String {
    let phase = serde_json::to_value(&view.saga.phase).unwrap();
    phase["diagnosis"]["refusal"]
        .as_str()
        .unwrap_or_else(|| panic!("not refused: {phase}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_cases_are_refused_with_the_reason_and_nothing_changes() {
    const E3_ROLE: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    let spare_sku = "11111111-2222-3333-4444-555555555555";
    let names = ["bob", "cyd", "dee", "eve", "fay", "gil"];
    let tenant = TenantFixture::start("saga-refusals", &names, |scenario| {
        let cyd = scenario["ad"]["users"][1]["user_principal_name"].clone();
        scenario["roles"] = json!([{
            "display_name": "Exchange Administrator",
            "role_template_id": E3_ROLE,
            "members": [cyd],
        }]);
        // Bob's cloud object already carries Dee's coexistence address.
        let dee = scenario["ad"]["users"][2]["sam_account_name"]
            .as_str()
            .unwrap()
            .to_owned();
        scenario["cloud_users"][0]["cloud_addresses"]
            .as_array_mut()
            .unwrap()
            .push(json!(format!("smtp:{dee}@contoso.mail.onmicrosoft.com")));
        // Eve has no licence, so no mailbox.
        let eve = scenario["ad"]["users"][3]["sam_account_name"].clone();
        scenario["ad"]["groups"][0]["members"]
            .as_array_mut()
            .unwrap()
            .retain(|member| *member != eve);
        // Fay and Gil live outside sync scope: Fay's name belongs to a cloud-only user, Gil
        // has no cloud user at all.
        let parked = scenario["ad"]["ous"][2].clone();
        scenario["ad"]["users"][4]["ou"] = parked.clone();
        scenario["ad"]["users"][5]["ou"] = parked;
        scenario["cloud_users"].as_array_mut().unwrap().truncate(5);
    })
    .await;
    let detour = Detour::start(&tenant, "saga-refusals", &[]).await;
    for (name, expected) in [
        ("cyd", "admin-role"),
        ("dee", "address-held-elsewhere"),
        ("eve", "no-mailbox"),
        ("fay", "not-synced"),
        ("gil", "user-not-in-cloud"),
    ] {
        let upn = tenant.upn(name);
        let before = graph_user(&tenant, &upn).await;
        let saga = detour.start_saga(&upn, false).await;
        let view = detour.settled(&saga).await;
        assert_eq!(view.status, "refused", "{name}: {}", timeline(&view));
        assert_eq!(refusal(&view), expected, "{name}");
        assert_eq!(graph_user(&tenant, &upn).await, before, "{name} untouched");
    }
    let ghost = detour.start_saga("ghost@contoso.com", false).await;
    let view = detour.settled(&ghost).await;
    assert_eq!(view.status, "undiagnosable", "{}", timeline(&view));
    let (status, bad) = detour.post("/sagas", json!({ "user": "not a upn" })).await;
    assert_eq!(status, 400, "{bad}");
    detour.bus.stop().await;

    // Settings of the tenant, of Connect or of Detour itself that make the round trip unsafe.
    type Customize = fn(&mut Value);
    type Case<'a> = (&'a str, Customize, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (
            "staging",
            |s| s["connect"]["staging_mode"] = json!(true),
            &[],
            "staging-mode",
        ),
        (
            "blocked",
            |s| s["features"] = json!({ "block_soft_match_enabled": true }),
            &[],
            "matching-blocked",
        ),
        (
            "seatless",
            |s| {
                s["skus"].as_array_mut().unwrap().push(json!({
                    "sku_id": "11111111-2222-3333-4444-555555555555",
                    "sku_part_number": "SPARE", "prepaid_units": 0, "includes_exchange": true,
                }));
            },
            &[("DETOUR__SAGA__TEMPORARY_SKU", spare_sku)],
            "no-free-seat",
        ),
        (
            // Connect itself says it syncs the parking OU.
            "inscope",
            |s| {
                let parked = s["ad"]["ous"][2].clone();
                s["connect"]["scope_ous"]
                    .as_array_mut()
                    .unwrap()
                    .push(parked);
            },
            &[],
            "parking-ou-in-scope",
        ),
        (
            "suspended",
            |s| s["connect"]["scheduler_suspended"] = json!(true),
            &[],
            "scheduler-suspended",
        ),
        (
            "nowhere",
            |_| {},
            &[("DETOUR__SAGA__DEFAULT_USAGE_LOCATION", "")],
            "no-usage-location",
        ),
    ];
    for (prefix, customize, settings, expected) in cases {
        let prefix = format!("saga-{prefix}");
        let tenant = TenantFixture::start(&prefix, &["ada"], customize).await;
        let detour = Detour::start(&tenant, &prefix, settings).await;
        let saga = detour.start_saga(&tenant.upn("ada"), false).await;
        let view = detour.settled(&saga).await;
        assert_eq!(view.status, "refused", "{prefix}: {}", timeline(&view));
        assert_eq!(refusal(&view), expected, "{prefix}");
        detour.bus.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_enough_connect_takes_the_cloud_managed_path_with_no_deletion() {
    let tenant = TenantFixture::start("saga-cloud-managed", &["ada"], |scenario| {
        scenario["connect"]["version"] = json!("2.5.190.0");
    })
    .await;
    let detour = Detour::start(&tenant, "saga-cloud-managed", &[]).await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    let cycles = tenant.runs().await.len();
    let saga = detour.start_saga(&ada, false).await;
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "completed", "{story}");
    assert_eq!(
        done.saga.phase.strategy(),
        Some(saga_coordinator::saga::Strategy::CloudManaged)
    );
    assert!(story.contains("SetCloudManaged done"), "{story}");
    assert!(!story.contains("Descope"), "no round trip: {story}");
    assert_eq!(
        tenant.runs().await.len(),
        cycles,
        "not a single sync cycle was needed"
    );
    let after = cloud_user(&tenant, &ada).await;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["onPremisesSyncEnabled"], true);
    let address = format!("smtp:{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    assert!(
        after["proxyAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(&address)),
        "{after}"
    );
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_that_never_returns_or_a_threshold_stop_is_undone_to_where_it_started() {
    type Customize = fn(&mut Value);
    let cases: [(&str, Customize, &str); 2] = [
        (
            "no-mailbox",
            |s| s["delays"]["mailbox_reconnect_seconds"] = json!(3600.0),
            "AwaitMailbox did not finish before its deadline",
        ),
        (
            "threshold",
            |s| {
                s["connect"]["deletion_threshold_enabled"] = json!(true);
                s["connect"]["deletion_threshold"] = json!(0);
            },
            "threshold stopped the export",
        ),
    ];
    for (name, customize, cause) in cases {
        let prefix = format!("saga-{name}");
        let tenant = TenantFixture::start(&prefix, &["ada"], customize).await;
        let detour = Detour::start(
            &tenant,
            &prefix,
            &[("DETOUR__SAGA__WAIT_DEADLINE_MS", "3000")],
        )
        .await;
        let ada = tenant.upn("ada");
        let before = cloud_user(&tenant, &ada).await;
        let saga = detour.start_saga(&ada, false).await;
        let undone = detour.settled(&saga).await;
        let story = timeline(&undone);
        assert_eq!(undone.status, "compensated", "{name}: {story}");
        assert!(story.contains(cause), "{name}: {story}");
        back_as_before(&tenant, &ada, &before, &format!("{name}: {story}")).await;
        detour.bus.stop().await;
    }
}

/// Under every disputed behaviour the tenant can show, the seed's user ends fixed, or, where
/// the round trip cannot work, put back exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_disputed_behaviour_of_the_tenant_ends_fixed_or_put_back() {
    let variants: [(&str, Value, &str); 5] = [
        // A restored user still tagged synced keeps a dir-synced mailbox Exchange will not
        // write to: the round trip cannot add the address and must undo itself.
        (
            "stays-synced",
            json!({ "switches": { "restored_user_stays_synced": true } }),
            "compensated",
        ),
        (
            "new-anchor",
            json!({ "switches": { "restored_user_keeps_immutable_id": false } }),
            "completed",
        ),
        (
            "groups-kept",
            json!({ "switches": { "synced_group_membership_drops_on_delete": false } }),
            "completed",
        ),
        // AD's routing address (the admin's earlier try) reaches the cloud: nothing to fix.
        (
            "coexistence-syncs",
            json!({ "switches": { "coexistence_domain_syncs_from_ad": true } }),
            "nothing-to-do",
        ),
        (
            "stale-reads",
            json!({ "delays": { "replication_lag_seconds": 0.5 } }),
            "completed",
        ),
    ];
    for (name, overrides, expected) in variants {
        let prefix = format!("saga-{name}");
        let tenant =
            TenantFixture::start(&prefix, &["ada"], |scenario| merge(scenario, &overrides)).await;
        let detour = Detour::start(
            &tenant,
            &prefix,
            &[("DETOUR__SAGA__WAIT_DEADLINE_MS", "5000")],
        )
        .await;
        let ada = tenant.upn("ada");
        let before = cloud_user(&tenant, &ada).await;
        let saga = detour.start_saga(&ada, false).await;
        let done = detour.settled(&saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, expected, "{name}: {story}");
        let after = cloud_user(&tenant, &ada).await;
        assert_eq!(after["id"], before["id"], "{name}: {story}");
        assert_eq!(after["onPremisesSyncEnabled"], true, "{name}: {story}");
        let licences = after["licenseAssignmentStates"].as_array().unwrap();
        assert!(
            !licences.is_empty() && licences.iter().all(|l| !l["assignedByGroup"].is_null()),
            "{name}: group licences only: {licences:?}"
        );
        detour.bus.stop().await;
    }
}

/// Merges `overrides` into `scenario`, object by object.
pub(crate) fn merge(scenario: &mut Value, overrides: &Value) {
    match (scenario, overrides) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, value) => *target = value.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_throttling_and_server_errors_at_every_step_are_ridden_out() {
    let tenant = TenantFixture::start("saga-storms", &["ada"], |_| {}).await;
    let detour = Detour::start(&tenant, "saga-storms", &[]).await;
    // Each of the round trip's cloud writes, and Exchange, meets a burst of refusals first.
    for (api, path, kind) in [
        (
            "graph",
            "/restore",
            json!({ "kind": "server-error", "status": 503 }),
        ),
        (
            "graph",
            "/assignLicense",
            json!({ "kind": "throttle", "retry_after_seconds": 1 }),
        ),
        (
            "graph",
            "/users",
            json!({ "kind": "server-error", "status": 502 }),
        ),
        ("exchange", "InvokeCommand", json!({ "kind": "busy" })),
    ] {
        let mut fault = json!({ "api": api, "path_contains": path, "count": 2 });
        merge(&mut fault, &kind);
        tenant.add_fault(fault).await;
    }
    let ada = tenant.upn("ada");
    let saga = detour.start_saga(&ada, false).await;
    let done = detour.settled(&saga).await;
    assert_eq!(done.status, "completed", "{}", timeline(&done));
    assert_eq!(tenant.faults_left().await, json!([]), "every burst was met");
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refused_for_a_conflict_is_undone_to_where_it_started() {
    let tenant = TenantFixture::start("saga-conflict", &["ada", "bob"], |_| {}).await;
    let detour = Detour::start(&tenant, "saga-conflict", &[]).await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    // Bob's AD object takes Ada's address: the cycle that deletes her carries it to Bob's
    // cloud object, and Graph then refuses to restore her over it.
    tenant.add_ad_proxy("bob", &format!("smtp:{ada}")).await;
    let saga = detour.start_saga(&ada, false).await;
    let undone = detour.settled(&saga).await;
    let story = timeline(&undone);
    assert_eq!(undone.status, "compensated", "{story}");
    assert!(story.contains("Restore failed"), "{story}");
    back_as_before(&tenant, &ada, &before, &story).await;
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remediation_asked_for_over_the_bus_is_taken_on_once_and_runs() {
    use detour_contracts::saga_coordinator::{
        RemediationAccepted, RemediationRejected, StartRemediation,
    };
    let tenant = TenantFixture::start("saga-bus", &["ada"], |_| {}).await;
    let mut detour = Detour::start(&tenant, "saga-bus", &[]).await;
    let ada = tenant.upn("ada");
    let ask = || StartRemediation {
        user: ada.clone(),
        dry_run: false,
    };
    let first = detour.bus.send(ask()).await.decode::<RemediationAccepted>();
    assert!(!first.joined);
    let again = detour.bus.send(ask()).await.decode::<RemediationAccepted>();
    assert_eq!((again.saga_id, again.joined), (first.saga_id, true));
    let refused = detour
        .bus
        .send(StartRemediation {
            user: "ada lovelace".into(),
            dry_run: false,
        })
        .await
        .decode::<RemediationRejected>();
    assert!(refused.reason.contains("not a UPN"), "{}", refused.reason);
    let done = detour.settled(&first.saga_id.to_string()).await;
    assert_eq!(done.status, "completed", "{}", timeline(&done));
    detour.bus.stop().await;
}
