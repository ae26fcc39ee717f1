//! The remediation ladder on the real stack: the gentlest rung that applies fixes the user
//! with no deletion, and a rung the tenant turns out not to support puts the user back as it
//! was. Each test reads the real AD, tenant-sim's world and the saga's own account.

use detour_testkit::eventually;
use ldap3::{Scope, SearchEntry};
use saga_coordinator::saga::Strategy;
use serde_json::json;
use std::time::Duration;
use tenant_sim::fixture::TenantFixture;

use crate::coordinator::{Detour, refusal, timeline};

/// The user's proxyAddresses as AD holds them now.
async fn ad_proxy_addresses(tenant: &TenantFixture, name: &str) -> Vec<String> {
    let mut ldap = tenant.directory.bind_service_account().await.unwrap();
    let filter = format!("(sAMAccountName={})", ldap3::ldap_escape(tenant.sam(name)));
    let (entries, _) = ldap
        .search(
            &tenant.ou.dn,
            Scope::Subtree,
            &filter,
            vec!["proxyAddresses"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    ldap.unbind().await.unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().expect("the user"));
    entry
        .attrs
        .get("proxyAddresses")
        .cloned()
        .unwrap_or_default()
}

fn routing(tenant: &TenantFixture, name: &str) -> String {
    format!("smtp:{}@contoso.mail.onmicrosoft.com", tenant.sam(name))
}

/// No cloud user was deleted or restored.
async fn no_deletion(tenant: &TenantFixture) {
    let effects = detour_system::bulk::effects(tenant).await.unwrap();
    for (user, effect) in effects {
        assert_eq!(effect["soft_deleted"], 0, "{user} was deleted: {effect}");
        assert_eq!(effect["restored"], 0, "{user} was restored: {effect}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routing_address_missing_in_ad_too_is_stamped_there_and_synced_with_no_deletion() {
    let tenant = TenantFixture::start("ladder-stamp", &["ada"], |scenario| {
        TenantFixture::without_ad_routing_address(scenario);
        scenario["switches"] = json!({ "coexistence_domain_syncs_from_ad": true });
    })
    .await;
    let detour = Detour::start(&tenant, "ladder-stamp", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "completed", "{story}");
    assert_eq!(done.saga.phase.strategy(), Some(Strategy::OnPremisesStamp));
    assert!(story.contains("AwaitAddressInExchange done"), "{story}");
    let address = routing(&tenant, "ada");
    assert!(
        ad_proxy_addresses(&tenant, "ada")
            .await
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&address)),
        "AD holds the stamp"
    );
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}

/// A stamp the cloud discards (the seed's experience) is removed again; where a later rung
/// applies the remediation goes on with it, else the user is left exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stamp_the_cloud_discards_is_undone_and_the_next_rung_fixes_the_user() {
    for (name, strategies, expected) in [
        (
            "ladder-fallback",
            "on-premises-stamp,round-trip",
            "completed",
        ),
        ("ladder-discarded", "on-premises-stamp", "compensated"),
    ] {
        let tenant =
            TenantFixture::start(name, &["ada"], TenantFixture::without_ad_routing_address).await;
        let before = ad_proxy_addresses(&tenant, "ada").await;
        let detour = Detour::start(
            &tenant,
            name,
            &[
                ("DETOUR__SAGA__WAIT_DEADLINE", "3s"),
                ("DETOUR__SAGA__STRATEGIES", strategies),
            ],
        )
        .await;
        let saga = detour.start_saga(&tenant.upn("ada"), false).await;
        let done = detour.settled(&saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, expected, "{name}: {story}");
        assert!(story.contains("UnstampAddress"), "{name}: {story}");
        eventually(Duration::from_secs(10), "AD as it was", || async {
            (ad_proxy_addresses(&tenant, "ada").await == before).then_some(())
        })
        .await;
        if expected == "completed" {
            assert_eq!(done.saga.phase.strategy(), Some(Strategy::RoundTrip));
            assert!(story.contains("falling back to RoundTrip"), "{story}");
        } else {
            no_deletion(&tenant).await;
        }
        detour.bus.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_allows_only_the_round_trip_never_stamps() {
    let tenant = TenantFixture::start(
        "ladder-policy",
        &["ada"],
        TenantFixture::without_ad_routing_address,
    )
    .await;
    let detour = Detour::start(
        &tenant,
        "ladder-policy",
        &[("DETOUR__SAGA__STRATEGIES", "round-trip")],
    )
    .await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let done = detour.settled(&saga).await;
    let story = timeline(&done);
    assert_eq!(done.status, "completed", "{story}");
    assert_eq!(done.saga.phase.strategy(), Some(Strategy::RoundTrip));
    assert!(!story.contains("StampAddress"), "{story}");
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_merely_eligible_for_a_privileged_role_is_refused_the_round_trip() {
    let tenant = TenantFixture::start("ladder-eligible", &["ada"], |scenario| {
        let ada = scenario["cloud_users"][0]["user_principal_name"].clone();
        scenario["roles"] = json!([{
            "display_name": "Exchange Administrator",
            "role_template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de",
            "members": [],
            "eligible": [ada],
        }]);
    })
    .await;
    let detour = Detour::start(&tenant, "ladder-eligible", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let view = detour.settled(&saga).await;
    let story = timeline(&view);
    assert_eq!(view.status, "refused", "{story}");
    assert_eq!(refusal(&view), "admin-role", "{story}");
    assert!(
        story.contains("Exchange Administrator (eligible)"),
        "{story}"
    );
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_errors_are_reported_before_any_rung_is_tried() {
    let tenant = TenantFixture::start("ladder-provisioning", &["ada"], |scenario| {
        scenario["cloud_users"][0]["provisioning_errors"] = json!([{
            "category": "PropertyConflict",
            "property_causing_error": "ProxyAddress",
            "value": "smtp:ada@contoso.com",
        }]);
    })
    .await;
    let detour = Detour::start(&tenant, "ladder-provisioning", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let view = detour.settled(&saga).await;
    let story = timeline(&view);
    assert_eq!(view.status, "refused", "{story}");
    assert_eq!(refusal(&view), "provisioning-errors", "{story}");
    assert!(
        story.contains("PropertyConflict on ProxyAddress"),
        "{story}"
    );
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coexistence_domain_exchange_does_not_accept_is_refused_not_worked_around() {
    let tenant = TenantFixture::start("ladder-domains", &["ada"], |scenario| {
        scenario["tenant"]["accepted_domains"] = json!(["contoso.com", "contoso.onmicrosoft.com"]);
    })
    .await;
    let detour = Detour::start(&tenant, "ladder-domains", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let view = detour.settled(&saga).await;
    let story = timeline(&view);
    assert_eq!(view.status, "refused", "{story}");
    assert_eq!(refusal(&view), "coexistence-domain-not-accepted", "{story}");
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}

/// A user whose routing address is fine but who has no MOERA, on a current Connect: the
/// mailbox's Exchange attributes are made cloud-managed and the MOERA added. Where Exchange
/// refuses an initial-domain address on such a mailbox (unconfirmed, the switch), that rung is
/// undone and the whole user is made cloud-managed instead; no deletion either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_moera_is_added_in_the_cloud_under_either_exchange_behaviour() {
    for (name, takes, rung) in [
        ("ladder-moera", true, Strategy::CloudManaged),
        ("ladder-moera-refused", false, Strategy::UserCloudManaged),
    ] {
        let tenant = TenantFixture::start(name, &["ada"], |scenario| {
            let routing = format!(
                "smtp:{}@contoso.mail.onmicrosoft.com",
                scenario["ad"]["users"][0]["sam_account_name"]
                    .as_str()
                    .unwrap()
            );
            scenario["connect"]["version"] = json!("2.5.190.0");
            scenario["cloud_users"][0]["cloud_addresses"] = json!([routing]);
            scenario["cloud_users"][0]["without_moera"] = json!(true);
            scenario["switches"] =
                json!({ "cloud_managed_mailbox_takes_initial_domain_address": takes });
        })
        .await;
        let detour = Detour::start(&tenant, name, &[]).await;
        let saga = detour.start_saga(&tenant.upn("ada"), false).await;
        let done = detour.settled(&saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, "completed", "{name}: {story}");
        assert_eq!(done.saga.phase.strategy(), Some(rung), "{name}: {story}");
        assert!(story.contains("the MOERA"), "{name}: {story}");
        let moera = format!("smtp:{}@contoso.onmicrosoft.com", tenant.sam("ada"));
        let user = crate::coordinator::cloud_user(&tenant, &tenant.upn("ada")).await;
        assert!(
            user["proxyAddresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(&moera)),
            "{name}: {user}"
        );
        if !takes {
            assert!(
                story.contains("falling back to UserCloudManaged"),
                "{story}"
            );
        }
        no_deletion(&tenant).await;
        detour.bus.stop().await;
    }
}

/// The routing address and the MOERA both missing: the routing address is fixed first, then
/// the user is diagnosed again and the MOERA gets a plan of its own, in one remediation with
/// one final word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_addresses_missing_are_both_fixed_one_after_the_other() {
    let tenant = TenantFixture::start("ladder-both", &["ada"], |scenario| {
        scenario["connect"]["version"] = json!("2.5.190.0");
        scenario["cloud_users"][0]["without_moera"] = json!(true);
    })
    .await;
    let detour = Detour::start(&tenant, "ladder-both", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let done = eventually(Duration::from_secs(90), "both plans done", || async {
        let view = detour.show(&saga).await;
        (view.status == "completed" && timeline(&view).contains("the MOERA is missing too"))
            .then_some(view)
    })
    .await;
    let story = timeline(&done);
    assert!(story.contains("the hybrid routing address"), "{story}");
    assert!(story.contains("diagnosing again for it"), "{story}");
    let user = crate::coordinator::cloud_user(&tenant, &tenant.upn("ada")).await;
    let addresses: Vec<String> = user["proxyAddresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_ascii_lowercase())
        .collect();
    for domain in ["contoso.mail.onmicrosoft.com", "contoso.onmicrosoft.com"] {
        let address = format!("smtp:{}@{domain}", tenant.sam("ada"));
        assert!(addresses.contains(&address), "{address}: {addresses:?}");
    }
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}

/// A deployment that hands the mailbox's Exchange attributes back to AD after the fix: where
/// the address survives AD's values at the next sync the user is fixed on that rung; where it
/// does not (unconfirmed, the switch), each rung that loses it is seen to, and the next fixes
/// the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_handed_back_to_ad_is_checked_after_the_sync() {
    for (name, survives, rung) in [
        ("ladder-back", true, Strategy::CloudManaged),
        ("ladder-back-lost", false, Strategy::RoundTrip),
    ] {
        let tenant = TenantFixture::start(name, &["ada"], |scenario| {
            scenario["connect"]["version"] = json!("2.5.190.0");
            scenario["switches"] = json!({ "cloud_address_survives_return_to_ad": survives });
        })
        .await;
        let detour = Detour::start(
            &tenant,
            name,
            &[
                ("DETOUR__SAGA__RETURN_MAILBOX_TO_AD", "true"),
                ("DETOUR__SAGA__WAIT_DEADLINE", "3s"),
            ],
        )
        .await;
        let saga = detour.start_saga(&tenant.upn("ada"), false).await;
        let done = detour.settled(&saga).await;
        let story = timeline(&done);
        assert_eq!(done.status, "completed", "{name}: {story}");
        assert_eq!(done.saga.phase.strategy(), Some(rung), "{name}: {story}");
        assert!(
            story.contains("HandMailboxBackToAd done"),
            "{name}: {story}"
        );
        if !survives {
            assert!(
                story.contains("falling back to UserCloudManaged"),
                "{story}"
            );
            assert!(story.contains("falling back to RoundTrip"), "{story}");
        } else {
            no_deletion(&tenant).await;
        }
        let ada = crate::coordinator::cloud_user(&tenant, &tenant.upn("ada")).await;
        let routing = routing(&tenant, "ada");
        assert!(
            ada["proxyAddresses"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().eq_ignore_ascii_case(&routing)),
            "{name}: {ada}"
        );
        detour.bus.stop().await;
    }
}

/// Graph documents no application permission for the tenant's sync features: where a tenant
/// refuses Detour's app token for them, the diagnosis stops there, saying so, and nothing is
/// changed; it never guesses the matching rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_refuses_the_sync_features_to_the_app_is_undiagnosable_not_guessed() {
    let tenant = TenantFixture::start("ladder-features-refused", &["ada"], |_| {}).await;
    tenant
        .add_fault(
            json!({ "api": "graph", "path_contains": "/directory/onPremisesSynchronization",
            "kind": "server-error", "status": 403 }),
        )
        .await;
    let detour = Detour::start(&tenant, "ladder-features-refused", &[]).await;
    let saga = detour.start_saga(&tenant.upn("ada"), false).await;
    let view = detour.settled(&saga).await;
    let story = timeline(&view);
    assert_eq!(view.status, "undiagnosable", "{story}");
    assert!(story.contains("Tenant read failed"), "{story}");
    assert!(
        !story.contains("now running"),
        "nothing was started: {story}"
    );
    no_deletion(&tenant).await;
    detour.bus.stop().await;
}
