//! The steps' logic against an in-memory directory: moves that are repeats, moves fenced off by
//! a change since the snapshot, missing parents and taken names, and input refused before the
//! directory is asked. The LDAP adapter's own tests run against the real Samba DC.

use std::{collections::BTreeMap, sync::Mutex};

use super::*;

const GUID: Uuid = Uuid::from_u128(0xADA);

fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap()
}

/// Entries by DN (lower-cased), one of them the user; every write made, in order.
struct FakeDirectory {
    containers: Vec<Dn>,
    user: Mutex<AdUserSnapshot>,
    /// Other entries, whose names a move must not take.
    others: Vec<Dn>,
    attributes: Mutex<BTreeMap<String, Option<String>>>,
    writes: Mutex<Vec<String>>,
}

impl FakeDirectory {
    fn new(user_dn: &str, usn: u64) -> Arc<Self> {
        Arc::new(Self {
            containers: vec![dn("OU=Staff,DC=corp"), dn("OU=Parked,DC=corp")],
            user: Mutex::new(AdUserSnapshot {
                object_guid: GUID,
                distinguished_name: dn(user_dn),
                consistency_guid: None,
                user_principal_name: Some("ada@contoso.com".into()),
                sam_account_name: "ada".into(),
                proxy_addresses: Vec::new(),
                member_of: Vec::new(),
                admin_description: None,
                usn_changed: usn,
            }),
            others: vec![dn("CN=Ada,OU=Taken,DC=corp"), dn("OU=Taken,DC=corp")],
            attributes: Mutex::default(),
            writes: Mutex::default(),
        })
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }

    fn user_dn(&self) -> String {
        self.user.lock().unwrap().distinguished_name.to_string()
    }
}

impl Directory for FakeDirectory {
    async fn find(&self, lookup: &UserLookup) -> Result<AdUserSnapshot, DirectoryError> {
        let user = self.user.lock().unwrap().clone();
        let found = match lookup {
            UserLookup::ObjectGuid(guid) => *guid == user.object_guid,
            UserLookup::UserPrincipalName(upn) => {
                user.user_principal_name.as_deref() == Some(upn.as_str())
            }
            UserLookup::SamAccountName(sam) => *sam == user.sam_account_name,
        };
        found
            .then_some(user)
            .ok_or_else(|| DirectoryError::NotFound("no such user".into()))
    }

    async fn exists(&self, dn: &Dn) -> Result<bool, DirectoryError> {
        Ok(self
            .containers
            .iter()
            .chain(&self.others)
            .any(|entry| entry.same_as(dn)))
    }

    async fn rename(&self, from: &Dn, to: &Dn) -> Result<(), DirectoryError> {
        if self.others.iter().any(|entry| entry.same_as(to)) {
            return Err(DirectoryError::Conflict("entryAlreadyExists".into()));
        }
        let mut user = self.user.lock().unwrap();
        assert!(user.distinguished_name.same_as(from), "renames the user");
        user.distinguished_name = to.clone();
        user.usn_changed += 1;
        self.writes
            .lock()
            .unwrap()
            .push(format!("rename {from} -> {to}"));
        Ok(())
    }

    async fn replace_attribute(
        &self,
        dn: &Dn,
        attribute: &str,
        value: Option<&str>,
    ) -> Result<(), DirectoryError> {
        self.attributes
            .lock()
            .unwrap()
            .insert(attribute.to_owned(), value.map(str::to_owned));
        self.writes
            .lock()
            .unwrap()
            .push(format!("replace {attribute} on {dn}"));
        Ok(())
    }

    async fn add_value(&self, dn: &Dn, attribute: &str, value: &str) -> Result<(), DirectoryError> {
        assert_eq!(attribute, "proxyAddresses");
        let mut user = self.user.lock().unwrap();
        if user
            .proxy_addresses
            .iter()
            .any(|a| a.eq_ignore_ascii_case(value))
        {
            return Err(DirectoryError::Conflict("attributeOrValueExists".into()));
        }
        user.proxy_addresses.push(value.to_owned());
        user.usn_changed += 1;
        self.writes
            .lock()
            .unwrap()
            .push(format!("add {value} on {dn}"));
        Ok(())
    }

    async fn delete_value(
        &self,
        dn: &Dn,
        attribute: &str,
        value: &str,
    ) -> Result<(), DirectoryError> {
        assert_eq!(attribute, "proxyAddresses");
        let mut user = self.user.lock().unwrap();
        user.proxy_addresses.retain(|a| a != value);
        user.usn_changed += 1;
        self.writes
            .lock()
            .unwrap()
            .push(format!("delete {value} on {dn}"));
        Ok(())
    }

    fn filter_attribute(&self) -> &str {
        "extensionAttribute15"
    }
}

fn park(fence: Option<u64>) -> MoveUser {
    MoveUser {
        object_guid: GUID,
        target_ou: dn("OU=Parked,DC=corp"),
        only_if_usn_changed: fence,
    }
}

#[tokio::test]
async fn a_move_keeps_the_name_and_a_repeat_is_already_there_whatever_the_fence() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 7);
    let moved = move_user(directory.clone(), park(Some(7))).await.unwrap();
    assert!(!moved.already_there);
    assert_eq!(moved.to.to_string(), "CN=Ada,OU=Parked,DC=corp");
    assert_eq!(directory.user_dn(), "CN=Ada,OU=Parked,DC=corp");
    // The move itself changed uSNChanged: its repeat must still answer "already there".
    let again = move_user(directory.clone(), park(Some(7))).await.unwrap();
    assert!(again.already_there);
    assert_eq!(directory.writes().len(), 1);
}

#[tokio::test]
async fn a_late_copy_fenced_on_an_old_snapshot_moves_nothing() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 9);
    let late = move_user(directory.clone(), park(Some(7))).await;
    assert!(matches!(late, Err(DirectoryError::Stale(_))), "{late:?}");
    assert!(directory.writes().is_empty());
    assert_eq!(
        late.unwrap_err()
            .failure_event("move-user")
            .map(|event| event.kind),
        Some(detour_contracts::ad_ops::AdFailureKind::Stale)
    );
}

#[tokio::test]
async fn a_missing_parent_or_a_taken_name_is_refused_with_what_is_wrong() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 1);
    let nowhere = MoveUser {
        target_ou: dn("OU=Nowhere,DC=corp"),
        ..park(None)
    };
    let answer = move_user(directory.clone(), nowhere).await;
    assert!(
        matches!(answer, Err(DirectoryError::NotFound(ref r)) if r.contains("OU=Nowhere")),
        "{answer:?}"
    );
    let taken = MoveUser {
        target_ou: dn("OU=Taken,DC=corp"),
        ..park(None)
    };
    let answer = move_user(directory.clone(), taken).await;
    assert!(
        matches!(answer, Err(DirectoryError::Conflict(ref r)) if r.contains("already named")),
        "{answer:?}"
    );
    assert!(directory.writes().is_empty());
}

#[tokio::test]
async fn a_move_back_goes_to_exactly_the_recorded_dn_and_repeats_as_already_there() {
    let directory = FakeDirectory::new("CN=Ada,OU=Parked,DC=corp", 3);
    let back = MoveUserToDn {
        object_guid: GUID,
        distinguished_name: dn("cn=ada, ou=staff, dc=corp"),
    };
    assert!(
        !move_user_to_dn(directory.clone(), back.clone())
            .await
            .unwrap()
            .already_there
    );
    assert!(
        move_user_to_dn(directory.clone(), back)
            .await
            .unwrap()
            .already_there
    );
    assert_eq!(directory.writes().len(), 1);
}

#[tokio::test]
async fn the_filter_attribute_is_set_on_the_users_current_entry_and_bad_values_are_refused() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 1);
    let set = |value: Option<&str>| SetFilterAttribute {
        object_guid: GUID,
        value: value.map(str::to_owned),
    };
    let answer = set_filter_attribute(directory.clone(), set(Some("NoSync")))
        .await
        .unwrap();
    assert_eq!(answer.attribute, "extensionAttribute15");
    assert_eq!(
        directory.writes(),
        ["replace extensionAttribute15 on CN=Ada,OU=Staff,DC=corp"]
    );
    for bad in ["", "line\nbreak"] {
        let refused = set_filter_attribute(directory.clone(), set(Some(bad))).await;
        assert!(
            matches!(refused, Err(DirectoryError::Invalid(_))),
            "{bad:?}"
        );
    }
    let long = "x".repeat(MAX_VALUE + 1);
    assert!(
        set_filter_attribute(directory.clone(), set(Some(&long)))
            .await
            .is_err()
    );
    assert_eq!(directory.writes().len(), 1, "refused before any write");
}

fn routing() -> detour_contracts::ProxyAddress {
    detour_contracts::ProxyAddress::parse("smtp:ada@contoso.mail.onmicrosoft.com").unwrap()
}

fn stamp(fence: Option<u64>) -> AddProxyAddress {
    AddProxyAddress {
        object_guid: GUID,
        address: routing(),
        only_if_usn_changed: fence,
    }
}

#[tokio::test]
async fn an_address_is_stamped_once_and_a_repeat_is_already_present_whatever_the_fence() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 4);
    assert!(
        !add_proxy_address(directory.clone(), stamp(Some(4)))
            .await
            .unwrap()
            .already_present
    );
    // The write moved uSNChanged; the repeat of the same command is still "already there".
    assert!(
        add_proxy_address(directory.clone(), stamp(Some(4)))
            .await
            .unwrap()
            .already_present
    );
    assert_eq!(
        directory.writes(),
        ["add smtp:ada@contoso.mail.onmicrosoft.com on CN=Ada,OU=Staff,DC=corp"]
    );
}

#[tokio::test]
async fn a_late_stamp_after_the_value_was_removed_again_writes_nothing() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 4);
    add_proxy_address(directory.clone(), stamp(Some(4)))
        .await
        .unwrap();
    let removal = RemoveProxyAddress {
        object_guid: GUID,
        address: routing(),
    };
    assert!(
        !remove_proxy_address(directory.clone(), removal.clone())
            .await
            .unwrap()
            .already_absent
    );
    assert!(
        remove_proxy_address(directory.clone(), removal)
            .await
            .unwrap()
            .already_absent
    );
    let late = add_proxy_address(directory.clone(), stamp(Some(4))).await;
    assert!(matches!(late, Err(DirectoryError::Stale(_))), "{late:?}");
    assert_eq!(
        directory.writes().len(),
        2,
        "the add and the removal, nothing after"
    );
}

#[tokio::test]
async fn a_removal_takes_the_value_as_ad_stores_it_and_nothing_else() {
    let directory = FakeDirectory::new("CN=Ada,OU=Staff,DC=corp", 1);
    directory.user.lock().unwrap().proxy_addresses = vec![
        "SMTP:ada@contoso.com".into(),
        "smtp:Ada@Contoso.Mail.OnMicrosoft.com".into(),
    ];
    let removal = RemoveProxyAddress {
        object_guid: GUID,
        address: routing(),
    };
    remove_proxy_address(directory.clone(), removal)
        .await
        .unwrap();
    assert_eq!(
        directory.user.lock().unwrap().proxy_addresses,
        ["SMTP:ada@contoso.com"]
    );
}

#[test]
fn lookups_are_checked_before_ldap_sees_them() {
    let upn = |s: &str| validate_lookup(&UserLookup::UserPrincipalName(s.into()));
    let sam = |s: &str| validate_lookup(&UserLookup::SamAccountName(s.into()));
    assert!(upn("ada@contoso.com").is_ok());
    assert!(upn("Zoë.Ångström@contoso.com").is_ok());
    // Filter metacharacters are legal in a UPN: they are escaped, never refused.
    assert!(upn("*)(objectClass=*@contoso.com").is_ok());
    assert!(upn("no-at-sign").is_err());
    assert!(upn("a@b@c").is_err());
    assert!(upn("nul\u{0}@contoso.com").is_err());
    assert!(upn(&format!("{}@contoso.com", "a".repeat(10_000))).is_err());
    assert!(sam("ada").is_ok());
    assert!(sam("*)(objectClass=*").is_err());
    assert!(sam("").is_err());
}
