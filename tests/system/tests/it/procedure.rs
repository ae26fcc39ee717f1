//! The seed's procedure, driven by hand over the bus: the four step services each do their
//! part against the real directory and tenant-sim when sent the commands in order, as the
//! coordinator will send them.

use std::time::Duration;

use detour_contracts::{
    ad_ops::{FindUser, MoveUser, MoveUserToDn, UserFound, UserLookup, UserMoved},
    cloud_directory::{
        AssignLicense, CloudUserRead, DeletedUserRead, LicenseAssigned, LicenseRemoved,
        ReadCloudUser, ReadDeletedUser, RemoveLicense, RestoreUser, UserRestored,
    },
    connect_agent::{ObjectOutcome, PolicyType},
    mailbox_ops::{AddEmailAddress, EmailAddressAdded, MailboxRead, ReadMailbox},
    sync_trigger::{RequestSyncCycle, SyncCycleCompleted},
};
use detour_service::{ServiceConfig, ServiceSpec, load_config};
use detour_testkit::{Build, ServiceHarness, Stack, eventually};
use tenant_sim::fixture::{E3, TenantFixture};

/// A service built from its own settings, with `own` settings added to the shared ones.
pub(crate) fn service<S: ServiceConfig>(
    port: u16,
    spec: fn(&S) -> anyhow::Result<ServiceSpec>,
    own: Vec<(String, String)>,
) -> Build {
    Box::new(move |mut sources| {
        sources.env.extend(own.iter().cloned());
        let settings: S = load_config(port, sources)?;
        Ok((spec(&settings)?, settings.base()))
    })
}

/// The four step services, pointed at the real directory (the tenant's OU) and tenant-sim.
pub(crate) fn step_services(tenant: &TenantFixture) -> Vec<Build> {
    let agent = vec![
        ("DETOUR__CONNECT__BASE_URL".to_owned(), tenant.base.clone()),
        (
            "DETOUR__CONNECT__AGENT_KEY".to_owned(),
            tenant.agent_key.clone(),
        ),
    ];
    step_services_reaching_connect(tenant, agent)
}

/// The four step services, sync-trigger reaching the Connect server as `connect` says.
pub(crate) fn step_services_reaching_connect(
    tenant: &TenantFixture,
    connect: Vec<(String, String)>,
) -> Vec<Build> {
    let mut ldap = Stack::load().unwrap().ldap_service_env().unwrap();
    ldap.retain(|(k, _)| k != "DETOUR__LDAP__SEARCH_BASE");
    ldap.push(("DETOUR__LDAP__SEARCH_BASE".into(), tenant.ou.dn.clone()));
    let pacing = [
        ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "100"),
        ("DETOUR__CONNECT__POLL_INTERVAL_MS", "100"),
    ];
    let connect = connect
        .into_iter()
        .chain(pacing.map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    vec![
        service::<ad_ops::AdOpsSettings>(ad_ops::DEFAULT_PORT, ad_ops::spec, ldap),
        service::<sync_trigger::SyncTriggerSettings>(
            sync_trigger::DEFAULT_PORT,
            sync_trigger::spec,
            connect,
        ),
        service::<cloud_directory::CloudDirectorySettings>(
            cloud_directory::DEFAULT_PORT,
            cloud_directory::spec,
            tenant.entra_env("GRAPH"),
        ),
        service::<mailbox_ops::MailboxOpsSettings>(
            mailbox_ops::DEFAULT_PORT,
            mailbox_ops::spec,
            tenant.entra_env("EXCHANGE"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_four_step_services_carry_out_the_seed_procedure_when_driven_over_the_bus() {
    let tenant = TenantFixture::start("procedure", &["ada", "bob"], |_| {}).await;
    let builds = step_services(&tenant);
    let mut bus = ServiceHarness::start_many("procedure", "*.*.v1", Vec::new(), builds)
        .await
        .unwrap();
    let upn = tenant.upn("ada");
    let address = format!("smtp:{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let e3 = E3.parse().unwrap();

    // 1. Snapshot AD and cloud: the address is missing and the mailbox is synced.
    let snapshot = bus
        .send(FindUser {
            lookup: UserLookup::UserPrincipalName(upn.clone()),
        })
        .await
        .decode::<UserFound>()
        .snapshot;
    let before = bus
        .send(ReadCloudUser {
            user: upn.clone(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    let mailbox = bus
        .send(ReadMailbox {
            identity: upn.clone(),
        })
        .await
        .decode::<MailboxRead>()
        .mailbox
        .unwrap();
    assert!(mailbox.is_dir_synced);
    assert!(
        !mailbox
            .email_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&address))
    );

    // 2-4. Descope, sync (one deletion: hers), and she is in deleted items.
    let out = bus
        .send(MoveUser {
            object_guid: snapshot.object_guid,
            target_ou: tenant.parked().parse().unwrap(),
            only_if_usn_changed: Some(snapshot.usn_changed),
        })
        .await
        .decode::<UserMoved>();
    assert!(!out.already_there);
    let cycle = bus
        .send(RequestSyncCycle {
            objects: vec![snapshot.object_guid],
            policy_type: PolicyType::Delta,
            since: time::OffsetDateTime::now_utc(),
            located_at: [(
                snapshot.object_guid,
                snapshot
                    .distinguished_name
                    .with_parent(&tenant.parked().parse().unwrap()),
            )]
            .into(),
            provision_on_demand: false,
        })
        .await;
    let cycle = cycle.decode::<SyncCycleCompleted>();
    let run = &cycle.runs[0];
    assert_eq!(
        (run.objects[0].outcome, run.stats.deletes),
        (ObjectOutcome::Deleted, 1)
    );
    let deleted = bus
        .send(ReadDeletedUser { id: before.id })
        .await
        .decode::<DeletedUserRead>();
    assert!(deleted.user.is_some());

    // 5-7. Restore, license, and wait for the mailbox by re-reading it.
    let restored = bus
        .send(RestoreUser {
            id: before.id,
            auto_reconcile_proxy_conflict: false,
            new_user_principal_name: None,
        })
        .await;
    assert!(!restored.decode::<UserRestored>().already_active);
    let licensed = bus
        .send(AssignLicense {
            user_id: before.id,
            sku_id: e3,
            usage_location: Some("PL".into()),
            only_while_cloud_only: true,
        })
        .await;
    assert!(!licensed.decode::<LicenseAssigned>().already_assigned);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mailbox = loop {
        let read = bus
            .send(ReadMailbox {
                identity: upn.clone(),
            })
            .await
            .decode::<MailboxRead>();
        if let Some(mailbox) = read.mailbox {
            break mailbox;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the mailbox never came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!mailbox.is_dir_synced, "cloud-only now");

    // 8. The address can be added now.
    let added = bus
        .send(AddEmailAddress {
            identity: upn.clone(),
            address: detour_contracts::ProxyAddress::parse(&address).unwrap(),
        })
        .await
        .decode::<EmailAddressAdded>();
    assert!(!added.already_present);

    // 9-11. Back to her DN, sync, and she is matched: same object, synced, same anchor.
    let back = bus
        .send(MoveUserToDn {
            object_guid: snapshot.object_guid,
            distinguished_name: snapshot.distinguished_name.clone(),
        })
        .await;
    assert!(!back.decode::<UserMoved>().already_there);
    let cycle = bus
        .send(RequestSyncCycle {
            objects: vec![snapshot.object_guid],
            policy_type: PolicyType::Delta,
            since: time::OffsetDateTime::now_utc(),
            located_at: [(snapshot.object_guid, snapshot.distinguished_name.clone())].into(),
            provision_on_demand: false,
        })
        .await;
    let cycle = cycle.decode::<SyncCycleCompleted>();
    let run = &cycle.runs[0];
    assert_eq!(run.objects[0].outcome, ObjectOutcome::Matched);
    assert_eq!(run.stats.adds, 0, "no second cloud object");
    let after = eventually(Duration::from_secs(10), "the re-match", || async {
        let user = graph_user(&tenant, &before.id.to_string()).await?;
        (user["onPremisesSyncEnabled"] == true).then_some(user)
    })
    .await;
    assert_eq!(
        after["onPremisesImmutableId"].as_str(),
        before.on_premises_immutable_id.as_deref()
    );

    // 12. Drop the temporary licence.
    let removed = bus
        .send(RemoveLicense {
            user_id: before.id,
            sku_id: e3,
        })
        .await
        .decode::<LicenseRemoved>();
    assert!(!removed.already_absent);

    // 13. Verify: address present, synced, group licence only, one cloud user.
    let user = bus
        .send(ReadCloudUser {
            user: before.id.to_string(),
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    assert_eq!(user.id, before.id);
    assert_eq!(user.on_premises_sync_enabled, Some(true));
    assert!(
        user.proxy_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&address)),
        "{:?}",
        user.proxy_addresses
    );
    assert_eq!(user.licenses.len(), 1);
    assert!(user.licenses[0].assigned_by_group.is_some());
    let by_upn = bus
        .send(ReadCloudUser {
            user: upn,
            with_admin_roles: true,
        })
        .await
        .decode::<CloudUserRead>()
        .user
        .unwrap();
    assert_eq!(by_upn.id, before.id, "exactly one cloud user by that name");
    bus.stop().await;
}

/// The user as Graph shows it, read straight from the tenant (for polling in a test).
async fn graph_user(tenant: &TenantFixture, id: &str) -> Option<serde_json::Value> {
    let (status, user) = tenant
        .graph(
            reqwest::Method::GET,
            &format!("/users/{id}?$select=onPremisesSyncEnabled,onPremisesImmutableId"),
            None,
        )
        .await;
    (status == 200).then_some(user)
}
