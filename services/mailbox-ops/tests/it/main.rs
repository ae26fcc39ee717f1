//! mailbox-ops against the real broker and tenant-sim's Exchange Online over real Samba: reads,
//! the synced mailbox's refusal, the cloud-managed path with idempotent repeats, conflicts, and
//! Exchange's own "busy".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use detour_contracts::ProxyAddress;
use detour_contracts::mailbox_ops::{
    AcceptedDomainsRead, AddEmailAddress, EmailAddressAdded, ExchangeCloudManagedSet,
    MailboxCommandFailed, MailboxFailureKind, MailboxRead, ReadAcceptedDomains, ReadMailbox,
    SetExchangeCloudManaged,
};
use detour_service::{ServiceConfig, load_config};
use detour_testkit::ServiceHarness;
use serde_json::{Value, json};
use tenant_sim::fixture::TenantFixture;

async fn start(
    prefix: &str,
    users: &[&str],
    customize: impl FnOnce(&mut Value),
) -> (TenantFixture, ServiceHarness) {
    let tenant = TenantFixture::start(prefix, users, customize).await;
    let env = tenant.entra_env("EXCHANGE");
    let build: detour_testkit::Build = Box::new(|sources| {
        let settings: mailbox_ops::MailboxOpsSettings =
            load_config(mailbox_ops::DEFAULT_PORT, sources)?;
        Ok((mailbox_ops::spec(&settings)?, settings.base()))
    });
    let service = ServiceHarness::start(prefix, "mailbox-ops.*.v1", env, 1, build)
        .await
        .unwrap();
    (tenant, service)
}

fn coexistence(tenant: &TenantFixture, name: &str) -> ProxyAddress {
    ProxyAddress::parse(&format!(
        "smtp:{}@contoso.mail.onmicrosoft.com",
        tenant.sam(name)
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synced_mailbox_is_read_and_its_edit_refused_with_exchanges_reason() {
    let (tenant, mut service) = start("mo-synced", &["ada"], |_| {}).await;
    let read = service
        .send(ReadMailbox {
            identity: tenant.upn("ada"),
        })
        .await
        .decode::<MailboxRead>();
    let mailbox = read.mailbox.expect("a mailbox");
    assert_eq!(mailbox.recipient_type_details, "UserMailbox");
    assert!(mailbox.is_dir_synced);
    let none = service
        .send(ReadMailbox {
            identity: "nobody@contoso.com".into(),
        })
        .await
        .decode::<MailboxRead>();
    assert_eq!(none.mailbox, None, "no mailbox is an answer");

    let refused = service
        .send(AddEmailAddress {
            identity: tenant.upn("ada"),
            address: coexistence(&tenant, "ada"),
        })
        .await;
    let failed = refused.decode::<MailboxCommandFailed>();
    assert_eq!(failed.kind, MailboxFailureKind::OutOfWriteScope);
    assert!(failed.reason.contains("write scope"), "{}", failed.reason);
    let old = service
        .send(SetExchangeCloudManaged {
            identity: tenant.upn("ada"),
            value: true,
        })
        .await;
    assert_eq!(
        old.decode::<MailboxCommandFailed>().kind,
        MailboxFailureKind::Unsupported,
        "Connect 2.4 is too old"
    );
    let bad = service
        .send(AddEmailAddress {
            identity: tenant.upn("ada"),
            // Typed, a non-address cannot even be sent; a non-SMTP one is refused.
            address: ProxyAddress::parse("x500:/o=ExchangeLabs/cn=ada").unwrap(),
        })
        .await;
    assert_eq!(
        bad.decode::<MailboxCommandFailed>().kind,
        MailboxFailureKind::Invalid
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_managed_path_adds_the_address_once_and_refuses_anothers() {
    let (tenant, mut service) = start("mo-soa", &["ada", "bob"], |s| {
        s["connect"]["version"] = json!("2.5.190.0")
    })
    .await;
    let ada = tenant.upn("ada");
    let set = SetExchangeCloudManaged {
        identity: ada.clone(),
        value: true,
    };
    assert!(
        !service
            .send(set.clone())
            .await
            .decode::<ExchangeCloudManagedSet>()
            .already
    );
    assert!(
        service
            .send(set)
            .await
            .decode::<ExchangeCloudManagedSet>()
            .already
    );

    let add = AddEmailAddress {
        identity: ada.clone(),
        address: coexistence(&tenant, "ada"),
    };
    assert!(
        !service
            .send(add.clone())
            .await
            .decode::<EmailAddressAdded>()
            .already_present
    );
    assert!(
        service
            .send(add)
            .await
            .decode::<EmailAddressAdded>()
            .already_present,
        "a repeat changes nothing"
    );
    let read = service
        .send(ReadMailbox {
            identity: ada.clone(),
        })
        .await
        .decode::<MailboxRead>()
        .mailbox
        .unwrap();
    assert!(read.is_dir_synced && read.is_exchange_cloud_managed);
    assert!(
        read.email_addresses
            .iter()
            .any(|a| coexistence(&tenant, "ada").same_as(a))
    );

    // Bob holds his own coexistence address: Ada cannot have it.
    let conflict = service
        .send(AddEmailAddress {
            identity: ada,
            address: coexistence(&tenant, "bob"),
        })
        .await;
    assert_eq!(
        conflict.decode::<MailboxCommandFailed>().kind,
        MailboxFailureKind::ObjectConflict
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_saying_busy_or_throttling_is_ridden_out() {
    let (tenant, mut service) = start("mo-busy", &["ada"], |_| {}).await;
    for fault in [
        json!({ "api": "exchange", "kind": "busy", "count": 2 }),
        json!({ "api": "exchange", "kind": "throttle", "retry_after_seconds": 1, "count": 1 }),
        json!({ "api": "exchange", "kind": "server-error", "status": 503, "count": 1 }),
    ] {
        tenant.add_fault(fault).await;
    }
    let read = service
        .send(ReadMailbox {
            identity: tenant.upn("ada"),
        })
        .await
        .decode::<MailboxRead>();
    assert!(read.mailbox.is_some());
    let left = tenant.faults_left().await;
    assert_eq!(left, json!([]), "every fault was hit");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_domains_are_read_as_exchange_lists_them() {
    let (_tenant, mut healthy) = start("mo-domains", &["ada"], |_| {}).await;
    let read = healthy
        .send(ReadAcceptedDomains {})
        .await
        .decode::<AcceptedDomainsRead>();
    assert!(
        read.domains
            .iter()
            .any(|d| d == "contoso.mail.onmicrosoft.com"),
        "{:?}",
        read.domains
    );
    healthy.stop().await;
    let (_tenant, mut unwired) = start("mo-no-coexistence", &["ada"], |s| {
        s["tenant"]["accepted_domains"] = json!(["contoso.com", "contoso.onmicrosoft.com"]);
    })
    .await;
    let read = unwired
        .send(ReadAcceptedDomains {})
        .await
        .decode::<AcceptedDomainsRead>();
    assert_eq!(read.domains, ["contoso.com", "contoso.onmicrosoft.com"]);
    unwired.stop().await;
}
