//! Adding and removing one proxy address against real Samba: exactly that value, once, in
//! whatever case AD stores it, and never again from a late copy after the value was removed.

use detour_contracts::{
    ProxyAddress,
    ad_ops::{
        AdFailureKind, AdOpsCommandFailed, AddProxyAddress, FindUser, ProxyAddressAdded,
        ProxyAddressRemoved, RemoveProxyAddress, UserFound, UserLookup,
    },
};

use crate::support::Harness;

async fn proxy_addresses(harness: &mut Harness, object_guid: uuid::Uuid) -> Vec<String> {
    harness
        .send(FindUser {
            lookup: UserLookup::ObjectGuid(object_guid),
        })
        .await
        .decode::<UserFound>()
        .snapshot
        .proxy_addresses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stamp_is_added_once_removed_exactly_and_never_put_back_by_a_late_copy() {
    let mut harness = Harness::start("ad-stamp").await;
    let staff = harness.ou.child("Staff").await.unwrap();
    let sam = harness.sam("eve");
    harness
        .create_user(
            &format!("Eve {}", harness.tag),
            &sam,
            &staff,
            &["SMTP:eve@contoso.com"],
        )
        .await;
    let snapshot = harness
        .send(FindUser {
            lookup: UserLookup::SamAccountName(sam.clone()),
        })
        .await
        .decode::<UserFound>()
        .snapshot;
    let address = ProxyAddress::parse(&format!("smtp:{sam}@contoso.mail.onmicrosoft.com")).unwrap();
    let stamp = AddProxyAddress {
        object_guid: snapshot.object_guid,
        address: address.clone(),
        only_if_usn_changed: Some(snapshot.usn_changed),
    };
    let added = harness
        .send(stamp.clone())
        .await
        .decode::<ProxyAddressAdded>();
    assert!(!added.already_present);
    let again = harness
        .send(stamp.clone())
        .await
        .decode::<ProxyAddressAdded>();
    assert!(again.already_present, "a repeat writes nothing");
    let now = proxy_addresses(&mut harness, snapshot.object_guid).await;
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.iter().any(|a| address.same_as(a)));

    let removal = RemoveProxyAddress {
        object_guid: snapshot.object_guid,
        address: address.clone(),
    };
    let removed = harness
        .send(removal.clone())
        .await
        .decode::<ProxyAddressRemoved>();
    assert!(!removed.already_absent);
    let again = harness.send(removal).await.decode::<ProxyAddressRemoved>();
    assert!(again.already_absent);
    assert_eq!(
        proxy_addresses(&mut harness, snapshot.object_guid).await,
        ["SMTP:eve@contoso.com"],
        "only the stamp went"
    );

    // The first stamp delivered again, late: the user has changed since its snapshot.
    let late = harness.send(stamp).await.decode::<AdOpsCommandFailed>();
    assert_eq!(late.kind, AdFailureKind::Stale, "{}", late.reason);
    assert_eq!(
        proxy_addresses(&mut harness, snapshot.object_guid).await,
        ["SMTP:eve@contoso.com"]
    );
    harness.stop().await;
}
