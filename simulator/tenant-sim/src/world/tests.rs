//! The model's rules, walked through without HTTP or LDAP: the seed's story first.

use std::collections::{BTreeMap, BTreeSet};

use detour_contracts::connect_agent::{ObjectOutcome, PolicyType, RunOutcome, RunResult};
use time::OffsetDateTime;
use uuid::Uuid;

use super::sync_engine::{AdGroup, AdSnapshot, AdUser};
use super::*;

const STAFF: &str = "OU=Staff,OU=Corp,DC=corp,DC=example,DC=com";
const PARKED: &str = "CN=Users,DC=corp,DC=example,DC=com";
const GROUP_DN: &str = "CN=M365 Licensed,OU=Groups,OU=Corp,DC=corp,DC=example,DC=com";
const E3: Uuid = Uuid::from_u128(0x6fd2c87f_b296_42f0_b197_1e91e994b900);
const COEXISTENCE: &str = "smtp:ada@contoso.mail.onmicrosoft.com";

fn world() -> World {
    let group_id = Uuid::new_v4();
    World {
        tenant: TenantInfo {
            id: Uuid::new_v4(),
            initial_domain: "contoso.onmicrosoft.com".into(),
            coexistence_domain: "contoso.mail.onmicrosoft.com".into(),
            verified_domains: vec!["contoso.com".into()],
            accepted_domains: None,
        },
        features: SyncFeatures::default(),
        switches: Switches::default(),
        users: BTreeMap::new(),
        deleted_users: BTreeMap::new(),
        groups: BTreeMap::from([(
            group_id,
            Group {
                id: group_id,
                display_name: "M365 Licensed".into(),
                on_premises_distinguished_name: Some(GROUP_DN.into()),
                members: BTreeSet::new(),
                licenses: vec![E3],
            },
        )]),
        skus: vec![Sku {
            sku_id: E3,
            sku_part_number: "ENTERPRISEPACK".into(),
            prepaid_units: 5,
            includes_exchange: true,
        }],
        roles: Vec::new(),
        mailboxes: BTreeMap::new(),
        connect: ConnectState {
            version: "2.4.18.0".into(),
            sync_cycle_enabled: true,
            staging_mode_enabled: false,
            scheduler_suspended: false,
            interval_seconds: 1800,
            next_policy_type: PolicyType::Delta,
            running: None,
            deletion_threshold_enabled: true,
            deletion_threshold: 500,
            scope_ous: vec![
                STAFF.parse().unwrap(),
                "OU=Groups,OU=Corp,DC=corp,DC=example,DC=com"
                    .parse()
                    .unwrap(),
            ],
            filter_attribute: Some("adminDescription".into()),
            filter_prefix: "NoSync".into(),
            connector_space: BTreeMap::new(),
            cloud_sync: None,
            runs: Vec::new(),
        },
        mailbox_reconnect_seconds: 60.0,
        effects: Default::default(),
    }
}

/// The same account always has the same objectGUID, wherever it is moved.
fn guid_of(sam: &str) -> Uuid {
    let mut bytes = [0u8; 16];
    for (slot, byte) in bytes.iter_mut().zip(sam.bytes().cycle()) {
        *slot = byte;
    }
    Uuid::from_bytes(bytes)
}

fn ad_user(sam: &str, ou: &str) -> AdUser {
    AdUser {
        object_guid: guid_of(sam),
        consistency_guid: None,
        distinguished_name: format!("CN={sam},{ou}"),
        sam_account_name: sam.into(),
        user_principal_name: Some(format!("{sam}@contoso.com")),
        display_name: Some(sam.into()),
        mail: Some(format!("{sam}@contoso.com")),
        proxy_addresses: vec![
            format!("SMTP:{sam}@contoso.com"),
            format!("smtp:{sam}@contoso.mail.onmicrosoft.com"),
        ],
        attributes: BTreeMap::new(),
    }
}

fn snapshot(users: Vec<AdUser>) -> AdSnapshot {
    let members = users.iter().map(|u| u.distinguished_name.clone()).collect();
    AdSnapshot {
        users,
        groups: vec![AdGroup {
            distinguished_name: GROUP_DN.into(),
            members,
        }],
    }
}

fn sync(world: &mut World, ad: &AdSnapshot, now: OffsetDateTime) -> RunResult {
    world.run_sync(ad, Uuid::new_v4(), PolicyType::Delta, now, now)
}

fn outcomes(run: &RunResult, outcome: ObjectOutcome) -> usize {
    run.objects.iter().filter(|o| o.outcome == outcome).count()
}

fn has(world: &World, id: Uuid, address: &str) -> bool {
    world
        .proxy_addresses(&world.users[&id])
        .iter()
        .any(|a| a.eq_ignore_ascii_case(address))
}

#[test]
fn the_seed_story_end_to_end() {
    let mut world = world();
    let t0 = OffsetDateTime::now_utc();
    let in_scope = snapshot(vec![ad_user("ada", STAFF)]);
    let run = sync(&mut world, &in_scope, t0);
    assert_eq!(outcomes(&run, ObjectOutcome::Added), 1);
    let id = world.user("ada@contoso.com").unwrap().id;
    // The coexistence address in AD never reaches the cloud; the MOERA does.
    assert!(!has(&world, id, COEXISTENCE));
    assert!(has(&world, id, "smtp:ada@contoso.onmicrosoft.com"));
    assert!(has(&world, id, "SMTP:ada@contoso.com"));
    let t1 = t0 + time::Duration::minutes(2);
    assert_eq!(world.mailbox_state(id, t1), Some(MailboxState::Active));
    // Exchange refuses to edit a synced mailbox.
    assert!(matches!(
        world.change_email_addresses(id, &[COEXISTENCE.into()], &[], t1),
        Err(MailboxError::OutOfWriteScope(_))
    ));

    // Out of scope: one deletion, the user in deletedItems, its mailbox soft-deleted.
    let parked = snapshot(vec![ad_user("ada", PARKED)]);
    let run = sync(&mut world, &parked, t1);
    assert_eq!(
        (outcomes(&run, ObjectOutcome::Deleted), run.outcome),
        (1, RunOutcome::Success)
    );
    assert!(world.deleted_users.contains_key(&id));
    assert!(matches!(
        world.mailbox_state(id, t1),
        Some(MailboxState::SoftDeleted { .. })
    ));

    // Restore: cloud-only, the group licence gone with the synced membership.
    world.restore_user(id, false, None, t1).unwrap();
    assert_eq!(world.users[&id].on_premises_sync_enabled, Some(false));
    assert!(world.effective_skus(id).is_empty());
    assert!(matches!(
        world.mailbox_state(id, t1),
        Some(MailboxState::Disconnected { .. })
    ));

    // A direct licence (after a usage location) brings the mailbox back after the delay.
    assert!(
        world.assign_license(id, &[E3], &[], t1).is_err(),
        "no usage location yet"
    );
    world.set_usage_location(id, "PL").unwrap();
    world.assign_license(id, &[E3], &[], t1).unwrap();
    assert!(matches!(
        world.mailbox_state(id, t1),
        Some(MailboxState::Reconnecting { .. })
    ));
    let t2 = t1 + time::Duration::minutes(2);
    assert_eq!(world.mailbox_state(id, t2), Some(MailboxState::Active));
    world
        .change_email_addresses(id, &[COEXISTENCE.into()], &[], t2)
        .unwrap();
    assert!(has(&world, id, COEXISTENCE));

    // Back in scope: the same object, synced again, the address kept, the group licence back.
    let run = sync(&mut world, &in_scope, t2);
    assert_eq!(
        outcomes(&run, ObjectOutcome::Matched),
        1,
        "{:?}",
        run.objects
    );
    assert_eq!(world.user("ada@contoso.com").unwrap().id, id);
    assert!(world.users[&id].is_synced());
    assert!(has(&world, id, COEXISTENCE));
    world.assign_license(id, &[], &[E3], t2).unwrap();
    let states = world.license_states(id);
    assert_eq!(states.len(), 1);
    assert!(
        states[0].assigned_by_group.is_some(),
        "only the group licence remains"
    );
    assert_eq!(world.users.len(), 1, "exactly one cloud user");
}

#[test]
fn too_many_deletions_stop_the_export_and_delete_nothing() {
    let mut world = world();
    world.connect.deletion_threshold = 1;
    let now = OffsetDateTime::now_utc();
    sync(
        &mut world,
        &snapshot(vec![ad_user("ada", STAFF), ad_user("bob", STAFF)]),
        now,
    );
    let run = sync(
        &mut world,
        &snapshot(vec![ad_user("ada", PARKED), ad_user("bob", PARKED)]),
        now,
    );
    assert_eq!(run.outcome, RunOutcome::StoppedDeletionThresholdExceeded);
    assert_eq!(world.users.len(), 2);
    assert!(world.deleted_users.is_empty());
    assert_eq!(outcomes(&run, ObjectOutcome::Error), 2);
}

#[test]
fn the_filter_attribute_takes_an_object_out_of_scope() {
    let mut world = world();
    let now = OffsetDateTime::now_utc();
    sync(&mut world, &snapshot(vec![ad_user("ada", STAFF)]), now);
    let mut filtered = ad_user("ada", STAFF);
    filtered
        .attributes
        .insert("admindescription".into(), "NoSync-detour".into());
    let run = sync(&mut world, &snapshot(vec![filtered]), now);
    assert_eq!(outcomes(&run, ObjectOutcome::Deleted), 1);
}

/// Restored users that lose their immutableId come back by soft match, which the tenant or an
/// admin role can block.
fn soft_match_world() -> (World, Uuid, AdSnapshot, OffsetDateTime) {
    let mut world = world();
    world.switches.restored_user_keeps_immutable_id = false;
    let now = OffsetDateTime::now_utc();
    let in_scope = snapshot(vec![ad_user("ada", STAFF)]);
    sync(&mut world, &in_scope, now);
    let id = world.user("ada@contoso.com").unwrap().id;
    sync(&mut world, &snapshot(vec![ad_user("ada", PARKED)]), now);
    world.restore_user(id, false, None, now).unwrap();
    (world, id, in_scope, now)
}

#[test]
fn soft_match_joins_on_the_primary_smtp_address_and_on_the_upn_only_where_enabled() {
    let (mut world, id, in_scope, now) = soft_match_world();
    let run = sync(&mut world, &in_scope, now);
    assert!(
        run.objects
            .iter()
            .any(|o| o.detail == "soft match on primary SMTP address"),
        "{:?}",
        run.objects
    );
    assert_eq!(world.user("ada@contoso.com").unwrap().id, id);

    // Without a primary SMTP address in AD, only the UPN could match, and only if enabled.
    let no_smtp = |mut user: AdUser| {
        user.proxy_addresses.retain(|a| !a.starts_with("SMTP:"));
        user.mail = None;
        user
    };
    let bare = snapshot(vec![no_smtp(ad_user("ada", STAFF))]);
    let (mut world, _, _, now) = soft_match_world();
    sync(&mut world, &bare, now);
    assert_eq!(
        world
            .users
            .values()
            .filter(|u| u.user_principal_name.starts_with("ada"))
            .count(),
        2,
        "no rule re-matched: a second user, as Microsoft would make"
    );
    let (mut world, id, _, now) = soft_match_world();
    world.features.soft_match_on_upn_enabled = true;
    let run = sync(&mut world, &bare, now);
    assert!(
        run.objects
            .iter()
            .any(|o| o.detail == "soft match on userPrincipalName"),
        "{:?}",
        run.objects
    );
    assert_eq!(world.user("ada@contoso.com").unwrap().id, id);

    let (mut world, _, in_scope, now) = soft_match_world();
    world.features.block_soft_match_enabled = true;
    let run = sync(&mut world, &in_scope, now);
    assert_eq!(outcomes(&run, ObjectOutcome::Error), 1);
    assert_eq!(run.outcome, RunOutcome::CompletedExportErrors);

    let (mut world, id, in_scope, now) = soft_match_world();
    world.roles.push(DirectoryRole {
        id: Uuid::new_v4(),
        display_name: "Exchange Administrator".into(),
        role_template_id: Uuid::new_v4(),
        members: BTreeSet::from([id]),
        eligible: BTreeSet::new(),
    });
    let run = sync(&mut world, &in_scope, now);
    assert!(
        run.objects
            .iter()
            .any(|o| o.detail.contains("administrator role")),
        "{:?}",
        run.objects
    );
}

#[test]
fn hard_match_is_blocked_for_a_user_merely_eligible_for_a_privileged_role() {
    let mut world = world();
    let now = OffsetDateTime::now_utc();
    let in_scope = snapshot(vec![ad_user("ada", STAFF)]);
    sync(&mut world, &in_scope, now);
    let id = world.user("ada@contoso.com").unwrap().id;
    sync(&mut world, &snapshot(vec![ad_user("ada", PARKED)]), now);
    world.restore_user(id, false, None, now).unwrap();
    world.roles.push(DirectoryRole {
        id: Uuid::new_v4(),
        display_name: "Exchange Administrator".into(),
        role_template_id: Uuid::new_v4(),
        members: BTreeSet::new(),
        eligible: BTreeSet::from([id]),
    });
    let run = sync(&mut world, &in_scope, now);
    assert!(
        run.objects
            .iter()
            .any(|o| o.detail.contains("security hardening")),
        "{:?}",
        run.objects
    );
}

#[test]
fn hard_match_takeover_can_be_blocked() {
    let (mut world, _, in_scope, now) = {
        let mut world = world();
        let now = OffsetDateTime::now_utc();
        let in_scope = snapshot(vec![ad_user("ada", STAFF)]);
        sync(&mut world, &in_scope, now);
        let id = world.user("ada@contoso.com").unwrap().id;
        sync(&mut world, &snapshot(vec![ad_user("ada", PARKED)]), now);
        world.restore_user(id, false, None, now).unwrap();
        (world, id, in_scope, now)
    };
    world
        .features
        .block_cloud_object_takeover_through_hard_match_enabled = true;
    let run = sync(&mut world, &in_scope, now);
    assert!(run.objects.iter().any(|o| {
        o.detail
            .contains("BlockCloudObjectTakeoverThroughHardMatchEnabled")
    }));
}

#[test]
fn the_coexistence_switch_lets_the_address_sync_from_ad() {
    let mut world = world();
    world.switches.coexistence_domain_syncs_from_ad = true;
    sync(
        &mut world,
        &snapshot(vec![ad_user("ada", STAFF)]),
        OffsetDateTime::now_utc(),
    );
    let id = world.user("ada@contoso.com").unwrap().id;
    assert!(has(&world, id, COEXISTENCE));
}

#[test]
fn licence_rules() {
    let mut world = world();
    let now = OffsetDateTime::now_utc();
    let users: Vec<AdUser> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|s| ad_user(s, STAFF))
        .collect();
    let mut ad = snapshot(users);
    ad.groups[0].members.clear();
    sync(&mut world, &ad, now);
    let ids: Vec<Uuid> = world.users.keys().copied().collect();
    for id in &ids {
        world.set_usage_location(*id, "US").unwrap();
    }
    for id in &ids[..5] {
        world.assign_license(*id, &[E3], &[], now).unwrap();
    }
    let err = world.assign_license(ids[5], &[E3], &[], now).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not have any available licenses"),
        "{err}"
    );
    assert_eq!(world.consumed_units(E3), 5);
    assert!(world.set_usage_location(ids[0], "Poland").is_err());
}

#[test]
fn restore_refuses_a_taken_upn_unless_renamed() {
    let mut world = world();
    let now = OffsetDateTime::now_utc();
    sync(&mut world, &snapshot(vec![ad_user("ada", STAFF)]), now);
    let id = world.user("ada@contoso.com").unwrap().id;
    sync(&mut world, &snapshot(vec![]), now);
    // Someone else takes the UPN meanwhile.
    let mut other = ad_user("ada2", STAFF);
    other.user_principal_name = Some("ada@contoso.com".into());
    other.proxy_addresses.clear();
    sync(&mut world, &snapshot(vec![other]), now);
    let err = world.restore_user(id, false, None, now).unwrap_err();
    assert!(
        matches!(
            err,
            WorldError::Conflict {
                target: "userPrincipalName",
                ..
            }
        ),
        "{err}"
    );
    world
        .restore_user(id, true, Some("ada.restored@contoso.com"), now)
        .unwrap();
    assert_eq!(
        world.users[&id].user_principal_name,
        "ada.restored@contoso.com"
    );
}

mod source_of_authority;
