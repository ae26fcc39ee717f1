//! The dev stack's Samba AD DC behaves as the rest of Detour needs: LDAPS verified against the
//! stack's CA, the service account binds, and a user with proxyAddresses can be created, moved
//! between OUs and read back with its objectGUID unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashSet, sync::Arc};

use detour_testkit::{Directory, TestOu};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

#[tokio::test]
async fn service_account_binds_over_ldaps_verified_against_the_stack_ca() {
    let directory = Directory::from_stack().unwrap();
    let mut ldap = directory.bind_service_account().await.unwrap();
    let (entries, _) = ldap
        .search(
            &directory.base_dn,
            Scope::Base,
            "(objectClass=*)",
            vec!["distinguishedName"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
    ldap.unbind().await.unwrap();
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let directory = Directory::from_stack().unwrap();
    // Trust the public web roots only: the stack's certificate must not verify against them.
    let roots = rustls::RootCertStore::empty();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let outcome = LdapConnAsync::with_settings(settings, &directory.url).await;
    assert!(outcome.is_err(), "TLS to the DC must fail without its CA");
}

#[tokio::test]
async fn a_user_with_proxy_addresses_is_created_moved_and_read_back() {
    let directory = Directory::from_stack().unwrap();
    let ou = TestOu::create(&directory, "fixture").await.unwrap();
    let synced = ou.child("Synced").await.unwrap();
    let parked = ou.child("Parked").await.unwrap();
    let mut ldap = directory.bind_service_account().await.unwrap();

    let user_dn = format!("CN=Ada Lovelace,{synced}");
    let sam = format!("ada{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let upn = format!("{sam}@corp.example.com");
    ldap.add(
        &user_dn,
        vec![
            ("objectClass", HashSet::from(["user"])),
            ("sAMAccountName", HashSet::from([sam.as_str()])),
            ("userPrincipalName", HashSet::from([upn.as_str()])),
            (
                "proxyAddresses",
                HashSet::from([
                    "SMTP:ada@contoso.com",
                    "smtp:ada@contoso.mail.onmicrosoft.com",
                ]),
            ),
        ],
    )
    .await
    .unwrap()
    .success()
    .unwrap();

    let guid_before = read_guid(&mut ldap, &user_dn).await;
    // AD requires the old RDN to be deleted when moving to a new parent.
    ldap.modifydn(&user_dn, "CN=Ada Lovelace", true, Some(&parked))
        .await
        .unwrap()
        .success()
        .unwrap();

    let moved_dn = format!("CN=Ada Lovelace,{parked}");
    let (entries, _) = ldap
        .search(
            &moved_dn,
            Scope::Base,
            "(objectClass=user)",
            vec!["proxyAddresses", "userPrincipalName", "objectGUID"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().unwrap());
    let proxies: HashSet<&str> = entry.attrs["proxyAddresses"]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        proxies,
        HashSet::from([
            "SMTP:ada@contoso.com",
            "smtp:ada@contoso.mail.onmicrosoft.com"
        ])
    );
    assert_eq!(entry.attrs["userPrincipalName"], vec![upn]);
    assert_eq!(
        read_guid(&mut ldap, &moved_dn).await,
        guid_before,
        "objectGUID survives a move"
    );

    let (old, _) = ldap
        .search(&synced, Scope::OneLevel, "(objectClass=user)", vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert!(old.is_empty(), "the user left its old OU");
    ldap.unbind().await.unwrap();
}

/// objectGUID read from the raw values: ldap3 files it as text when its bytes happen to be
/// valid UTF-8, so neither `attrs` nor `bin_attrs` alone is reliable.
async fn read_guid(ldap: &mut ldap3::Ldap, dn: &str) -> Vec<u8> {
    let (entries, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", vec!["objectGUID"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().unwrap());
    let guid = entry
        .bin_attrs
        .get("objectGUID")
        .and_then(|values| values.first().cloned())
        .or_else(|| {
            entry
                .attrs
                .get("objectGUID")
                .and_then(|v| v.first())
                .map(|s| s.as_bytes().to_vec())
        })
        .expect("objectGUID");
    assert_eq!(guid.len(), 16);
    guid
}
