//! Object-level source of authority: a user made cloud-managed is left alone by sync, can be
//! edited in Exchange Online, and is taken back by AD after the documented rollback, which the
//! tenant's takeover block refuses while it is set.

use super::*;

const MOERA: &str = "smtp:ada@contoso.onmicrosoft.com";

/// Ada synced by a Connect that knows object-level SOA, her mailbox active.
fn synced_ada() -> (World, Uuid, AdSnapshot, OffsetDateTime) {
    let mut world = world();
    world.connect.version = "2.5.190.0".into();
    let t0 = OffsetDateTime::now_utc();
    let in_scope = snapshot(vec![ad_user("ada", STAFF)]);
    sync(&mut world, &in_scope, t0);
    let id = world.user("ada@contoso.com").unwrap().id;
    (world, id, in_scope, t0 + time::Duration::minutes(2))
}

#[test]
fn a_cloud_managed_user_is_left_alone_by_sync_and_writable_in_exchange() {
    let (mut world, id, in_scope, now) = synced_ada();
    world.set_user_cloud_managed(id, true).unwrap();
    assert_eq!(world.users[&id].on_premises_sync_enabled, None);
    world
        .change_email_addresses(id, &[COEXISTENCE.into()], &[], now)
        .unwrap();
    let run = sync(&mut world, &in_scope, now);
    assert_eq!(
        outcomes(&run, ObjectOutcome::Filtered),
        1,
        "{:?}",
        run.objects
    );
    assert!(run.objects[0].detail.contains("6956"));
    // Out of scope, it is still not deleted: sync does not touch it at all.
    let run = sync(&mut world, &snapshot(vec![ad_user("ada", PARKED)]), now);
    assert_eq!(outcomes(&run, ObjectOutcome::Deleted), 0);
    assert!(world.users.contains_key(&id));
    assert!(has(&world, id, COEXISTENCE));
}

#[test]
fn a_connect_too_old_for_object_soa_gets_its_exports_refused() {
    let (mut world, id, in_scope, now) = synced_ada();
    world.connect.version = "2.4.18.0".into();
    world.set_user_cloud_managed(id, true).unwrap();
    let run = sync(&mut world, &in_scope, now);
    assert_eq!(outcomes(&run, ObjectOutcome::Error), 1);
    assert_eq!(world.users[&id].on_premises_sync_enabled, None);
}

#[test]
fn the_rollback_is_refused_while_takeover_is_blocked_and_then_ad_takes_the_user_back() {
    for survives in [true, false] {
        let (mut world, id, in_scope, now) = synced_ada();
        world.switches.cloud_address_survives_return_to_ad = survives;
        world
            .features
            .block_cloud_object_takeover_through_hard_match_enabled = true;
        world.set_user_cloud_managed(id, true).unwrap();
        world
            .change_email_addresses(id, &[COEXISTENCE.into()], &[], now)
            .unwrap();
        world.set_user_cloud_managed(id, false).unwrap();
        let run = sync(&mut world, &in_scope, now);
        assert_eq!(outcomes(&run, ObjectOutcome::Error), 1, "{:?}", run.objects);
        assert_eq!(world.users[&id].on_premises_sync_enabled, None);

        world
            .features
            .block_cloud_object_takeover_through_hard_match_enabled = false;
        let run = sync(&mut world, &in_scope, now);
        assert_eq!(
            outcomes(&run, ObjectOutcome::Matched),
            1,
            "{:?}",
            run.objects
        );
        assert!(world.users[&id].is_synced());
        assert_eq!(world.users.len(), 1, "the same object, not a second one");
        assert_eq!(
            has(&world, id, COEXISTENCE),
            survives,
            "survives: {survives}"
        );
        assert!(has(&world, id, MOERA), "the MOERA is the cloud's and stays");
        let effects = world.effects[&id];
        assert_eq!(
            (effects.made_cloud_managed, effects.taken_back_by_ad),
            (1, 1)
        );
        assert_eq!(effects.soft_deleted, 0);
    }
}

#[test]
fn a_privileged_user_is_not_taken_back() {
    let (mut world, id, in_scope, now) = synced_ada();
    world.roles.push(DirectoryRole {
        id: Uuid::new_v4(),
        display_name: "Global Administrator".into(),
        role_template_id: Uuid::new_v4(),
        members: BTreeSet::new(),
        eligible: BTreeSet::from([id]),
    });
    world.set_user_cloud_managed(id, true).unwrap();
    world.set_user_cloud_managed(id, false).unwrap();
    let run = sync(&mut world, &in_scope, now);
    assert!(
        run.objects[0].detail.contains("security hardening"),
        "{:?}",
        run.objects
    );
}

#[test]
fn a_cloud_managed_mailbox_takes_an_initial_domain_address_only_under_the_switch() {
    for takes in [true, false] {
        let (mut world, id, _, now) = synced_ada();
        world
            .switches
            .cloud_managed_mailbox_takes_initial_domain_address = takes;
        world.users.get_mut(&id).unwrap().cloud_addresses.clear();
        world.set_exchange_cloud_managed(id, true, now).unwrap();
        let added = world.change_email_addresses(id, &[MOERA.into()], &[], now);
        assert_eq!(added.is_ok(), takes, "{added:?}");
    }
}

#[test]
fn a_mailbox_handed_back_to_ad_keeps_its_cloud_address_only_under_the_switch() {
    for survives in [true, false] {
        let (mut world, id, in_scope, now) = synced_ada();
        world.switches.cloud_address_survives_return_to_ad = survives;
        world.set_exchange_cloud_managed(id, true, now).unwrap();
        world
            .change_email_addresses(id, &[COEXISTENCE.into()], &[], now)
            .unwrap();
        sync(&mut world, &in_scope, now);
        assert!(has(&world, id, COEXISTENCE), "kept while cloud-managed");
        world.set_exchange_cloud_managed(id, false, now).unwrap();
        sync(&mut world, &in_scope, now);
        assert_eq!(
            has(&world, id, COEXISTENCE),
            survives,
            "survives: {survives}"
        );
        assert!(has(&world, id, MOERA));
    }
}
