//! The verdicts: which address is missing, the ladder's choice with its reasons for every
//! gentler rung, nothing to do, and every refusal.

use super::*;

fn facts() -> Facts {
    sample_facts()
}

fn plan(diagnosis: Diagnosis) -> Plan {
    match diagnosis {
        Diagnosis::Plan(plan) => plan,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn refusal(diagnosis: Diagnosis) -> Refusal {
    match diagnosis {
        Diagnosis::Refused { refusal, .. } => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The sample user, AD not holding the routing address: the stamp can help.
fn not_in_ad() -> Facts {
    let mut f = facts();
    f.ad.proxy_addresses
        .retain(|a| !a.contains("mail.onmicrosoft.com"));
    f
}

#[test]
fn the_seeds_user_gets_the_round_trip_with_why_the_gentler_rungs_do_not_apply() {
    let plan = plan(diagnose(&facts()));
    assert_eq!(plan.strategy, Strategy::RoundTrip);
    assert_eq!(plan.missing, Missing::Routing);
    assert_eq!(
        plan.address.to_string(),
        "smtp:ada@contoso.mail.onmicrosoft.com"
    );
    let skipped: Vec<Strategy> = plan.skipped.iter().map(|s| s.strategy).collect();
    assert_eq!(
        skipped,
        [
            Strategy::OnPremisesStamp,
            Strategy::CloudManaged,
            Strategy::UserCloudManaged
        ]
    );
    assert!(
        plan.skipped[2].reason.contains("2.5.76.0"),
        "{:?}",
        plan.skipped
    );
    assert!(
        plan.skipped[0].reason.contains("discards AD's value"),
        "{:?}",
        plan.skipped
    );
    assert!(
        plan.skipped[1].reason.contains("2.5.190.0"),
        "{:?}",
        plan.skipped
    );
    assert_eq!(plan.after.len(), plan.before.len() + 1);
    assert_eq!(plan.hash(), plan.clone().hash(), "stable");
    let mut other = plan.clone();
    other.address = ProxyAddress::parse("smtp:x@contoso.mail.onmicrosoft.com").unwrap();
    assert_ne!(other.hash(), plan.hash());
}

#[test]
fn a_routing_address_not_in_ad_is_stamped_there_first() {
    let plan = plan(diagnose(&not_in_ad()));
    assert_eq!(plan.strategy, Strategy::OnPremisesStamp);
    assert!(plan.skipped.is_empty());
    // Should the cloud discard the stamp, the rungs after it that apply are tried in turn.
    assert_eq!(
        plan.fallbacks,
        [Strategy::RoundTrip],
        "Connect 2.4: no cloud-managed"
    );
    let next = plan.fallback("the address never reached Exchange").unwrap();
    assert_eq!(next.strategy, Strategy::RoundTrip);
    assert_eq!(next.address, plan.address);
    assert!(next.fallbacks.is_empty());
    assert_eq!(
        next.skipped.last().unwrap().strategy,
        Strategy::OnPremisesStamp
    );
    assert!(
        next.skipped
            .last()
            .unwrap()
            .reason
            .contains("never reached Exchange")
    );
    assert_ne!(
        next.hash(),
        plan.hash(),
        "another plan, approved on its own"
    );
    assert!(
        next.fallback("again").is_none(),
        "the last rung has none after it"
    );
}

#[test]
fn current_connect_takes_the_cloud_managed_rung_and_old_connect_never_does() {
    let mut f = facts();
    f.connect.connect_version = "2.5.190.0".into();
    assert_eq!(plan(diagnose(&f)).strategy, Strategy::CloudManaged);
    // The preview's 2.5.76.0 is not enough for mailboxes any more; it is for the whole user.
    f.connect.connect_version = "2.5.79.0".into();
    assert_eq!(plan(diagnose(&f)).strategy, Strategy::UserCloudManaged);
    // No deletion on that rung, so the matching and seat refusals do not stop it.
    f.connect.connect_version = "2.5.191.3".into();
    f.tenant.block_soft_match_enabled = true;
    assert_eq!(plan(diagnose(&f)).strategy, Strategy::CloudManaged);
}

#[test]
fn a_cloud_sync_tenant_takes_the_cloud_managed_rung_but_never_the_whole_user() {
    let mut f = facts();
    f.connect.connect_version = "cloud-sync".into();
    f.connect.sync_client = detour_contracts::sync_trigger::SyncClient::CloudSync;
    let chosen = plan(diagnose(&f));
    assert_eq!(chosen.strategy, Strategy::CloudManaged);
    assert_eq!(
        chosen.fallbacks,
        [Strategy::RoundTrip],
        "no cloud-managed user"
    );
    f.strategies = vec![Strategy::UserCloudManaged, Strategy::RoundTrip];
    let round_trip = plan(diagnose(&f));
    assert_eq!(round_trip.strategy, Strategy::RoundTrip);
    assert!(
        round_trip.skipped[0].reason.contains("1.1.1370.0"),
        "{:?}",
        round_trip.skipped
    );
    // A quarantined job syncs nothing: no rung that needs an export is taken.
    f.connect.scheduler.scheduler_suspended = true;
    let Diagnosis::Refused { detail, .. } = diagnose(&f) else {
        panic!("nothing exports from a stopped job")
    };
    assert!(detail.contains("Cloud Sync job"), "{detail}");
}

#[test]
fn the_whole_user_goes_to_the_cloud_where_only_object_level_authority_is_supported() {
    let mut f = facts();
    f.connect.connect_version = "2.5.79.0".into();
    let back = plan(diagnose(&f));
    assert_eq!(back.strategy, Strategy::UserCloudManaged);
    assert!(back.back_to_ad);
    assert_eq!(back.fallbacks, [Strategy::RoundTrip]);
    // Going back to AD is a takeover: refused for the privileged, and it needs a cycle.
    let mut admin = f.clone();
    if let Some(cloud) = admin.cloud.as_mut() {
        cloud.admin_roles = Some(vec!["Exchange Administrator (eligible)".into()]);
    }
    let Diagnosis::Refused { refusal, detail } = diagnose(&admin) else {
        panic!("neither rung takes a privileged user back")
    };
    assert_eq!(refusal, Refusal::AdminRole, "{detail}");
    let mut staging = f.clone();
    staging.connect.scheduler.staging_mode_enabled = true;
    assert!(matches!(
        diagnose(&staging),
        Diagnosis::Refused {
            refusal: Refusal::StagingMode,
            ..
        }
    ));
    // A deployment that leaves fixed users in the cloud needs neither.
    admin.return_user_to_ad = false;
    let stays = plan(diagnose(&admin));
    assert_eq!(stays.strategy, Strategy::UserCloudManaged);
    assert!(!stays.back_to_ad);
    assert_ne!(stays.hash(), back.hash(), "an approval names which it is");
}

#[test]
fn the_deployment_decides_which_rungs_may_be_taken_and_in_what_order() {
    let mut f = not_in_ad();
    f.connect.connect_version = "2.5.190.0".into();
    f.strategies = vec![Strategy::CloudManaged, Strategy::OnPremisesStamp];
    assert_eq!(plan(diagnose(&f)).strategy, Strategy::CloudManaged);
    f.strategies = vec![Strategy::RoundTrip];
    let only = plan(diagnose(&f));
    assert_eq!(only.strategy, Strategy::RoundTrip);
    assert!(
        only.skipped.is_empty(),
        "a forbidden rung is not a skipped one"
    );
    // Nothing allowed applies: refused, with every rung's reason.
    let mut old = facts();
    old.strategies = vec![Strategy::OnPremisesStamp, Strategy::CloudManaged];
    let Diagnosis::Refused { detail, .. } = diagnose(&old) else {
        panic!()
    };
    assert!(
        detail.contains("OnPremisesStamp") && detail.contains("CloudManaged"),
        "{detail}"
    );
}

#[test]
fn a_missing_moera_is_told_apart_and_never_stamped_in_ad() {
    let mut f = not_in_ad();
    let mailbox = f.mailbox.as_mut().unwrap();
    mailbox.email_addresses = vec![
        "SMTP:ada@contoso.com".into(),
        "smtp:ada@contoso.mail.onmicrosoft.com".into(),
    ];
    let plan = plan(diagnose(&f));
    assert_eq!(plan.missing, Missing::Moera);
    assert_eq!(plan.address.to_string(), "smtp:ada@contoso.onmicrosoft.com");
    assert_eq!(plan.strategy, Strategy::RoundTrip);
    assert!(
        plan.skipped[0].reason.contains("MOERA"),
        "{:?}",
        plan.skipped
    );
}

#[test]
fn a_moera_with_digits_is_a_name_collision_and_nothing_to_do() {
    let mut f = facts();
    f.mailbox.as_mut().unwrap().email_addresses = vec![
        "SMTP:ada@contoso.com".into(),
        "smtp:ada@contoso.mail.onmicrosoft.com".into(),
        "smtp:ada4711@contoso.onmicrosoft.com".into(),
    ];
    assert!(matches!(diagnose(&f), Diagnosis::NothingToDo { .. }));
}

#[test]
fn an_address_entra_holds_but_exchange_lacks_is_escalated_not_fixed() {
    let mut f = facts();
    f.cloud
        .as_mut()
        .unwrap()
        .proxy_addresses
        .push("smtp:ada@contoso.mail.onmicrosoft.com".into());
    let Diagnosis::Refused { refusal, detail } = diagnose(&f) else {
        panic!()
    };
    assert_eq!(refusal, Refusal::ForwardSyncProblem);
    assert!(detail.contains("Microsoft support"), "{detail}");
}

#[test]
fn an_address_already_there_is_nothing_to_do() {
    let mut f = facts();
    f.mailbox
        .as_mut()
        .unwrap()
        .email_addresses
        .push("smtp:ADA@contoso.mail.onmicrosoft.com".into());
    assert!(matches!(diagnose(&f), Diagnosis::NothingToDo { .. }));
}

#[test]
fn every_unsafe_case_is_refused_with_its_reason() {
    type Tweak = fn(&mut Facts);
    let cases: [(Tweak, Refusal); 12] = [
        (|f| f.cloud = None, Refusal::UserNotInCloud),
        (
            |f| {
                f.cloud.as_mut().unwrap().provisioning_errors =
                    vec!["PropertyConflict on ProxyAddress: smtp:ada@contoso.com".into()]
            },
            Refusal::ProvisioningErrors,
        ),
        (
            |f| f.cloud.as_mut().unwrap().on_premises_sync_enabled = Some(false),
            Refusal::NotSynced,
        ),
        (|f| f.mailbox = None, Refusal::NoMailbox),
        (
            |f| f.address_holder = Some("bob@contoso.com".into()),
            Refusal::AddressHeldElsewhere,
        ),
        (
            |f| f.connect.scheduler.staging_mode_enabled = true,
            Refusal::StagingMode,
        ),
        (
            |f| f.connect.scheduler.scheduler_suspended = true,
            Refusal::SchedulerSuspended,
        ),
        (
            |f| f.tenant.block_soft_match_enabled = true,
            Refusal::MatchingBlocked,
        ),
        (
            |f| {
                f.tenant
                    .block_cloud_object_takeover_through_hard_match_enabled = true
            },
            Refusal::MatchingBlocked,
        ),
        (
            |f| f.cloud.as_mut().unwrap().admin_roles = Some(vec!["Exchange Administrator".into()]),
            Refusal::AdminRole,
        ),
        (|f| f.parking_ou_in_scope = true, Refusal::ParkingOuInScope),
        (
            |f| f.cloud.as_mut().unwrap().licenses.clear(),
            Refusal::NoFreeSeat,
        ),
    ];
    for (tweak, expected) in cases {
        let mut f = facts();
        tweak(&mut f);
        assert_eq!(refusal(diagnose(&f)), expected);
    }
    // A user without the SKU is fine when a seat is free.
    let mut f = facts();
    f.cloud.as_mut().unwrap().licenses.clear();
    f.tenant.skus[0].consumed_units = 9;
    assert!(matches!(diagnose(&f), Diagnosis::Plan(_)));
    // No rule could re-match a restored user without its anchor: no primary SMTP in AD, and
    // no soft match on the UPN; with the UPN rule on, the round trip may go.
    let mut f = facts();
    f.ad.proxy_addresses.retain(|a| !a.starts_with("SMTP:"));
    assert_eq!(refusal(diagnose(&f)), Refusal::NoRematch);
    f.tenant.soft_match_on_upn_enabled = true;
    assert_eq!(plan(diagnose(&f)).strategy, Strategy::RoundTrip);
    // No rung can make a routing address work on a domain Exchange does not accept.
    let mut f = facts();
    f.accepted_domains.retain(|d| !d.contains(".mail."));
    assert_eq!(refusal(diagnose(&f)), Refusal::CoexistenceDomainNotAccepted);
    // A stamp needs Connect to export as much as a round trip does.
    let mut f = not_in_ad();
    f.connect.scheduler.staging_mode_enabled = true;
    assert_eq!(refusal(diagnose(&f)), Refusal::StagingMode);
}

#[test]
fn both_addresses_missing_plan_the_routing_address_first_and_say_the_moera_follows() {
    let mut f = facts();
    if let Some(mailbox) = f.mailbox.as_mut() {
        mailbox
            .email_addresses
            .retain(|a| !a.contains("contoso.onmicrosoft.com"));
    }
    let first = plan(diagnose(&f));
    assert_eq!(first.missing, Missing::Routing);
    assert!(first.moera_missing_too);
    // Once the routing address is there, the next diagnosis plans the MOERA alone.
    if let Some(mailbox) = f.mailbox.as_mut() {
        mailbox
            .email_addresses
            .push("smtp:ada@contoso.mail.onmicrosoft.com".into());
    }
    let second = plan(diagnose(&f));
    assert_eq!(second.missing, Missing::Moera);
    assert!(!second.moera_missing_too);
    assert_eq!(
        second.address.to_string(),
        "smtp:ada@contoso.onmicrosoft.com"
    );
}
