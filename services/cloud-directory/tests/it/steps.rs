//! Each command against tenant-sim: reads alone and batched, the cloud half of the seed with
//! idempotent repeats, refusals with their reasons, hostile names, and address holders.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_the_current_state_alone_or_batched() {
    let (tenant, mut service) = start("cd-reads", &["ada", "bob"], |_| {}).await;
    let read = service
        .send(ReadCloudUser {
            user: tenant.upn("ada"),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>();
    let ada = read.user.expect("ada is live");
    assert_eq!(ada.on_premises_sync_enabled, Some(true));
    assert_eq!(ada.licenses.len(), 1);
    assert!(
        ada.licenses[0].assigned_by_group.is_some(),
        "the licence comes from the group"
    );
    assert_eq!(ada.admin_roles, Some(Vec::new()));
    let nobody = service
        .send(ReadCloudUser {
            user: "nobody@contoso.com".into(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>();
    assert_eq!(nobody.user, None, "not found is an answer, not a failure");

    // More than one $batch's worth: 25 names, 2 of them real.
    let mut names: Vec<String> = (0..23).map(|i| format!("ghost{i}@contoso.com")).collect();
    names.insert(5, tenant.upn("ada"));
    names.push(tenant.upn("bob"));
    let batch = service
        .send(ReadCloudUsers {
            users: names.clone(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUsersRead>();
    assert_eq!(batch.users.len(), 25);
    for (entry, name) in batch.users.iter().zip(&names) {
        assert_eq!(&entry.requested, name);
        assert_eq!(entry.user.is_some(), !name.starts_with("ghost"), "{name}");
    }

    let tenant_state = service.send(ReadTenant {}).await.decode::<TenantRead>();
    assert!(!tenant_state.block_soft_match_enabled);
    assert_eq!(tenant_state.skus[0].consumed_units, 2);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_half_of_the_seed_with_idempotent_repeats() {
    let (tenant, mut service) = start("cd-seed", &["ada"], |_| {}).await;
    let id = service
        .send(ReadCloudUser {
            user: tenant.upn("ada"),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap()
        .id;
    // A temporary licence for a user still synced from AD (a late copy, after the round
    // trip) is stale: nothing is assigned.
    let late = service
        .send(AssignLicense {
            user_id: id,
            sku_id: sku(),
            usage_location: Some("PL".into()),
            only_while_cloud_only: true,
        })
        .await
        .decode::<CloudCommandFailed>();
    assert_eq!(late.kind, CloudFailureKind::Stale, "{}", late.reason);
    let licences = service
        .send(ReadCloudUser {
            user: id.to_string(),
            with_admin_roles: false,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap()
        .licenses;
    assert!(
        licences.iter().all(|l| l.assigned_by_group.is_some()),
        "{licences:?}"
    );
    tenant
        .move_user("ada", &tenant.staff(), &tenant.parked())
        .await;
    tenant.sync().await;

    let deleted = service
        .send(ReadDeletedUser { id })
        .await
        .decode::<DeletedUserRead>();
    assert!(deleted.user.is_some(), "soft-deleted after the sync");
    let restore = RestoreUser {
        id,
        auto_reconcile_proxy_conflict: false,
        new_user_principal_name: None,
    };
    let restored = service.send(restore.clone()).await.decode::<UserRestored>();
    assert!(!restored.already_active);
    assert!(
        service
            .send(restore)
            .await
            .decode::<UserRestored>()
            .already_active,
        "a repeat does nothing"
    );

    let assign = AssignLicense {
        user_id: id,
        sku_id: sku(),
        usage_location: Some("PL".into()),
        only_while_cloud_only: true,
    };
    assert!(
        !service
            .send(assign.clone())
            .await
            .decode::<LicenseAssigned>()
            .already_assigned
    );
    assert!(
        service
            .send(assign)
            .await
            .decode::<LicenseAssigned>()
            .already_assigned
    );
    let user = service
        .send(ReadCloudUser {
            user: id.to_string(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    assert_eq!(user.usage_location.as_deref(), Some("PL"));
    assert_eq!(
        user.on_premises_sync_enabled,
        Some(false),
        "cloud-only after the restore"
    );

    let remove = RemoveLicense {
        user_id: id,
        sku_id: sku(),
    };
    assert!(
        !service
            .send(remove.clone())
            .await
            .decode::<LicenseRemoved>()
            .already_absent
    );
    assert!(
        service
            .send(remove)
            .await
            .decode::<LicenseRemoved>()
            .already_absent
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_why_and_group_licences_are_never_touched() {
    // One seat for two group-licensed users: the group over-consumes, as group licensing may.
    let (tenant, mut service) = start("cd-refuse", &["ada", "bob"], |s| {
        s["skus"][0]["prepaid_units"] = json!(1)
    })
    .await;
    let id = service
        .send(ReadCloudUser {
            user: tenant.upn("ada"),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap()
        .id;
    let unknown = service
        .send(RestoreUser {
            id: Uuid::new_v4(),
            auto_reconcile_proxy_conflict: false,
            new_user_principal_name: None,
        })
        .await;
    assert_eq!(
        unknown.decode::<CloudCommandFailed>().kind,
        CloudFailureKind::NotFound
    );

    // Ada's licence comes from her group: "removing" it directly leaves it alone.
    let removed = service
        .send(RemoveLicense {
            user_id: id,
            sku_id: sku(),
        })
        .await
        .decode::<LicenseRemoved>();
    assert!(removed.already_absent);
    let user = service
        .send(ReadCloudUser {
            user: id.to_string(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    assert_eq!(user.licenses.len(), 1);

    // Out of scope, restored, no usage location given: refused with the reason.
    tenant
        .move_user("ada", &tenant.staff(), &tenant.parked())
        .await;
    tenant.sync().await;
    service
        .send(RestoreUser {
            id,
            auto_reconcile_proxy_conflict: false,
            new_user_principal_name: None,
        })
        .await;
    let no_location = service
        .send(AssignLicense {
            user_id: id,
            sku_id: sku(),
            usage_location: None,
            only_while_cloud_only: true,
        })
        .await;
    let failed = no_location.decode::<CloudCommandFailed>();
    assert_eq!(failed.kind, CloudFailureKind::Invalid);
    assert!(failed.reason.contains("usageLocation"), "{}", failed.reason);
    let bad_location = service
        .send(AssignLicense {
            user_id: id,
            sku_id: sku(),
            usage_location: Some("Poland".into()),
            only_while_cloud_only: true,
        })
        .await;
    assert_eq!(
        bad_location.decode::<CloudCommandFailed>().kind,
        CloudFailureKind::Invalid
    );

    // Bob still holds the only seat: no direct licence for Ada.
    let no_seat = service
        .send(AssignLicense {
            user_id: id,
            sku_id: sku(),
            usage_location: Some("PL".into()),
            only_while_cloud_only: true,
        })
        .await;
    let failed = no_seat.decode::<CloudCommandFailed>();
    assert_eq!(failed.kind, CloudFailureKind::NoSeats, "{}", failed.reason);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_are_refused_or_looked_up_literally() {
    let (_tenant, mut service) = start("cd-hostile", &["ada"], |_| {}).await;
    // Path and query metacharacters are percent-encoded: a lookup, not a different request.
    for name in [
        "*)(objectClass=*@contoso.com",
        "a'b#c?d/e%f@contoso.com",
        "../users?$filter=x",
        "Zoë@contoso.com",
    ] {
        let read = service
            .send(ReadCloudUser {
                user: name.into(),
                with_admin_roles: true,
            })
            .await
            .decode::<CloudUserRead>();
        assert_eq!(read.user, None, "{name} must match nothing");
    }
    for name in ["", "nul\u{0}@contoso.com", &"a".repeat(10_000)] {
        let refused = service
            .send(ReadCloudUser {
                user: name.into(),
                with_admin_roles: true,
            })
            .await
            .decode::<CloudCommandFailed>();
        assert_eq!(refused.kind, CloudFailureKind::Invalid);
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_who_holds_an_address_whatever_its_prefix() {
    use detour_contracts::cloud_directory::{AddressHoldersFound, FindAddressHolders};
    let (tenant, mut service) = start("cd-holders", &["ada", "bob"], |_| {}).await;
    let bob_address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("bob"));
    for asked in [format!("smtp:{bob_address}"), bob_address.to_uppercase()] {
        let found = service
            .send(FindAddressHolders {
                address: asked.clone(),
            })
            .await
            .decode::<AddressHoldersFound>();
        let holders: Vec<_> = found
            .holders
            .iter()
            .map(|h| h.user_principal_name.as_str())
            .collect();
        assert_eq!(holders, [tenant.upn("bob").as_str()], "{asked}");
    }
    let nobody = service
        .send(FindAddressHolders {
            address: format!("smtp:{}@contoso.mail.onmicrosoft.com", tenant.sam("ada")),
        })
        .await
        .decode::<AddressHoldersFound>();
    assert!(nobody.holders.is_empty());
    // A quote is escaped into the filter, not a way out of it.
    let quoted = service
        .send(FindAddressHolders {
            address: "o'brien@contoso.mail.onmicrosoft.com') or true or ('".into(),
        })
        .await
        .decode::<AddressHoldersFound>();
    assert!(quoted.holders.is_empty());
    let refused = service
        .send(FindAddressHolders {
            address: "not an address".into(),
        })
        .await
        .decode::<CloudCommandFailed>();
    assert_eq!(refused.kind, CloudFailureKind::Invalid);

    // Bob leaves sync scope: soft-deleted, he still holds his address.
    tenant
        .move_user("bob", &tenant.staff(), &tenant.parked())
        .await;
    tenant.sync().await;
    let found = service
        .send(FindAddressHolders {
            address: format!("smtp:{bob_address}"),
        })
        .await
        .decode::<AddressHoldersFound>();
    assert_eq!(found.holders.len(), 1, "{:?}", found.holders);
    assert!(found.holders[0].soft_deleted, "{:?}", found.holders);
}

/// Object-level source of authority through the real client: the user handed to the cloud
/// (Graph then shows `onPremisesSyncEnabled: null`), the takeover block lifted and put back,
/// each repeat answered "already", and a hand-over fenced on an older export refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_handed_to_the_cloud_and_the_takeover_block_lifted_and_restored() {
    let (tenant, mut service) = start("cd-soa", &["ada"], |scenario| {
        scenario["features"]["block_cloud_object_takeover_through_hard_match_enabled"] =
            json!(true);
    })
    .await;
    let ada_now = ReadCloudUser {
        user: tenant.upn("ada"),
        with_admin_roles: false,
    };
    let ada = service
        .send(ada_now.clone())
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    let last_sync = ada.on_premises_last_sync;
    assert!(last_sync.is_some(), "Connect exported ada");
    let stale = service
        .send(SetUserCloudManaged {
            user_id: ada.id,
            cloud_managed: true,
            only_if_last_sync: last_sync.map(|t| t - time::Duration::hours(1)),
        })
        .await
        .decode::<CloudCommandFailed>();
    assert_eq!(stale.kind, CloudFailureKind::Stale, "{}", stale.reason);
    for already in [false, true] {
        let set = service
            .send(SetUserCloudManaged {
                user_id: ada.id,
                cloud_managed: true,
                only_if_last_sync: last_sync,
            })
            .await
            .decode::<UserCloudManagedSet>();
        assert_eq!(set.already, already);
    }
    let ada = service
        .send(ada_now)
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    assert_eq!(ada.on_premises_sync_enabled, None);

    for (enabled, expected) in [
        (None, (true, true)),
        (Some(false), (false, true)),
        (Some(true), (true, false)),
    ] {
        let set = service
            .send(SetTakeoverBlock { enabled })
            .await
            .decode::<TakeoverBlockSet>();
        assert_eq!((set.enabled, set.previous), expected, "{enabled:?}");
    }
    let features = tenant
        .graph(
            reqwest::Method::GET,
            "/directory/onPremisesSynchronization",
            None,
        )
        .await;
    assert_eq!(
        features.1["value"][0]["features"]["blockCloudObjectTakeoverThroughHardMatchEnabled"],
        json!(true)
    );
    service.stop().await;
}
