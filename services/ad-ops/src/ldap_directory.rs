//! The real [`Directory`], over LDAP (ldap3): TLS verified against the configured CA, a bind
//! as the service account, filter values escaped per RFC 4515, and one shared connection that
//! is dropped and rebuilt after a transport failure (a DC restart).

use std::{collections::HashSet, time::Duration};

use base64::Engine;
use detour_contracts::{
    Dn,
    ad_ops::{AdUserSnapshot, UserLookup},
};
use detour_ldap::Endpoint;
use ldap3::{Ldap, Mod, Scope, SearchEntry};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{
    directory::{Directory, DirectoryError},
    settings::LdapSettings,
};

const USER_FILTER: &str = "(objectCategory=person)(objectClass=user)";

#[derive(Debug)]
pub struct LdapDirectory {
    settings: LdapSettings,
    endpoint: Endpoint,
    connection: Mutex<Option<Ldap>>,
}

impl LdapDirectory {
    /// Reads the CA now (start-up), connects on first use.
    pub fn new(settings: LdapSettings) -> anyhow::Result<Self> {
        let endpoint = Endpoint::new(
            &settings.url,
            &settings.ca_file,
            Duration::from_millis(settings.operation_timeout_ms),
        )?;
        Ok(Self {
            settings,
            endpoint,
            connection: Mutex::new(None),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.operation_timeout_ms)
    }

    async fn ldap(&self) -> Result<Ldap, DirectoryError> {
        let mut slot = self.connection.lock().await;
        if let Some(ldap) = slot.as_mut()
            && !ldap.is_closed()
        {
            return Ok(ldap.clone());
        }
        let ldap = self
            .endpoint
            .bind(&self.settings.bind_dn, self.settings.bind_password.expose())
            .await?;
        *slot = Some(ldap.clone());
        Ok(ldap)
    }

    /// Runs `op`, forgetting the connection if it failed underneath us.
    async fn with_ldap<T, F, Fut>(&self, op: F) -> Result<T, DirectoryError>
    where
        F: FnOnce(Ldap) -> Fut,
        Fut: std::future::Future<Output = Result<T, DirectoryError>>,
    {
        let ldap = self.ldap().await?;
        let result = op(ldap).await;
        if matches!(result, Err(DirectoryError::Transient(_))) {
            *self.connection.lock().await = None;
        }
        result
    }
}

impl Directory for LdapDirectory {
    async fn find(&self, lookup: &UserLookup) -> Result<AdUserSnapshot, DirectoryError> {
        let filter = user_filter(lookup);
        let attribute = self.settings.filter_attribute.clone();
        let base = self.settings.search_base.clone();
        let timeout = self.timeout();
        let entries = self
            .with_ldap(|mut ldap| async move {
                let attributes = vec![
                    "objectGUID",
                    "mS-DS-ConsistencyGuid",
                    "userPrincipalName",
                    "sAMAccountName",
                    "proxyAddresses",
                    "memberOf",
                    "adminDescription",
                    "uSNChanged",
                    attribute.as_str(),
                ];
                let (entries, _) = ldap
                    .with_timeout(timeout)
                    .search(&base, Scope::Subtree, &filter, attributes)
                    .await?
                    .success()?;
                Ok(entries
                    .into_iter()
                    .map(SearchEntry::construct)
                    .collect::<Vec<_>>())
            })
            .await?;
        let count = entries.len();
        let mut entries = entries.into_iter();
        match (entries.next(), count) {
            (None, _) => Err(DirectoryError::NotFound(format!(
                "no user matches {}",
                describe(lookup)
            ))),
            (Some(entry), 1) => to_snapshot(entry),
            (Some(_), n) => Err(DirectoryError::Conflict(format!(
                "{n} users match {}; refusing to guess",
                describe(lookup)
            ))),
        }
    }

    async fn exists(&self, dn: &Dn) -> Result<bool, DirectoryError> {
        let (dn, timeout) = (dn.to_string(), self.timeout());
        self.with_ldap(|mut ldap| async move {
            match ldap
                .with_timeout(timeout)
                .search(&dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
                .await?
                .success()
            {
                Ok(_) => Ok(true),
                Err(ldap3::LdapError::LdapResult { result }) if result.rc == 32 => Ok(false),
                Err(other) => Err(other.into()),
            }
        })
        .await
    }

    async fn rename(&self, from: &Dn, to: &Dn) -> Result<(), DirectoryError> {
        let parent = to
            .parent_dn()
            .ok_or_else(|| DirectoryError::Invalid(format!("{to} has no parent to move into")))?;
        let (from, rdn, parent, timeout) = (
            from.to_string(),
            to.rdn().to_owned(),
            parent.to_string(),
            self.timeout(),
        );
        self.with_ldap(|mut ldap| async move {
            // AD requires the old RDN to be deleted when moving to a new parent.
            ldap.with_timeout(timeout)
                .modifydn(&from, &rdn, true, Some(&parent))
                .await?
                .success()?;
            Ok(())
        })
        .await
    }

    async fn replace_attribute(
        &self,
        dn: &Dn,
        attribute: &str,
        value: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let values: HashSet<String> = value.map(str::to_owned).into_iter().collect();
        self.modify(dn, Mod::Replace(attribute.to_owned(), values))
            .await
    }

    async fn add_value(&self, dn: &Dn, attribute: &str, value: &str) -> Result<(), DirectoryError> {
        self.modify(
            dn,
            Mod::Add(attribute.to_owned(), HashSet::from([value.to_owned()])),
        )
        .await
    }

    async fn delete_value(
        &self,
        dn: &Dn,
        attribute: &str,
        value: &str,
    ) -> Result<(), DirectoryError> {
        self.modify(
            dn,
            Mod::Delete(attribute.to_owned(), HashSet::from([value.to_owned()])),
        )
        .await
    }

    fn filter_attribute(&self) -> &str {
        &self.settings.filter_attribute
    }
}

impl LdapDirectory {
    /// One modification of the entry at `dn`.
    async fn modify(&self, dn: &Dn, change: Mod<String>) -> Result<(), DirectoryError> {
        let (dn, timeout) = (dn.to_string(), self.timeout());
        self.with_ldap(|mut ldap| async move {
            ldap.with_timeout(timeout)
                .modify(&dn, vec![change])
                .await?
                .success()?;
            Ok(())
        })
        .await
    }
}

/// The search filter for `lookup`, its value escaped per RFC 4515: whatever a ticket says, it
/// can only ever be one equality match on one user.
pub fn user_filter(lookup: &UserLookup) -> String {
    match lookup {
        UserLookup::UserPrincipalName(upn) => format!(
            "(&{USER_FILTER}(userPrincipalName={}))",
            ldap3::ldap_escape(upn)
        ),
        UserLookup::SamAccountName(sam) => format!(
            "(&{USER_FILTER}(sAMAccountName={}))",
            ldap3::ldap_escape(sam)
        ),
        UserLookup::ObjectGuid(guid) => format!(
            "(&{USER_FILTER}(objectGUID={}))",
            escape_bytes(&guid.to_bytes_le())
        ),
    }
}

fn describe(lookup: &UserLookup) -> String {
    match lookup {
        UserLookup::UserPrincipalName(upn) => format!("userPrincipalName {upn:?}"),
        UserLookup::SamAccountName(sam) => format!("sAMAccountName {sam:?}"),
        UserLookup::ObjectGuid(guid) => format!("objectGUID {guid}"),
    }
}

/// A binary filter value: every byte as `\xx` (RFC 4515).
fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A binary attribute's bytes: ldap3 files a value under `attrs` when its bytes happen to be
/// valid UTF-8, under `bin_attrs` otherwise.
fn binary(entry: &SearchEntry, name: &str) -> Option<Vec<u8>> {
    entry
        .bin_attrs
        .get(name)
        .and_then(|v| v.first().cloned())
        .or_else(|| {
            entry
                .attrs
                .get(name)
                .and_then(|v| v.first())
                .map(|s| s.as_bytes().to_vec())
        })
}

fn to_snapshot(entry: SearchEntry) -> Result<AdUserSnapshot, DirectoryError> {
    let first = |name: &str| entry.attrs.get(name).and_then(|v| v.first().cloned());
    let guid = binary(&entry, "objectGUID")
        .and_then(|bytes| Uuid::from_slice_le(&bytes).ok())
        .ok_or_else(|| {
            DirectoryError::Invalid(format!("{} has no readable objectGUID", entry.dn))
        })?;
    Ok(AdUserSnapshot {
        object_guid: guid,
        consistency_guid: binary(&entry, "mS-DS-ConsistencyGuid")
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        user_principal_name: first("userPrincipalName"),
        sam_account_name: first("sAMAccountName").ok_or_else(|| {
            DirectoryError::Invalid(format!("{} has no sAMAccountName", entry.dn))
        })?,
        proxy_addresses: entry
            .attrs
            .get("proxyAddresses")
            .cloned()
            .unwrap_or_default(),
        member_of: entry.attrs.get("memberOf").cloned().unwrap_or_default(),
        admin_description: first("adminDescription"),
        usn_changed: first("uSNChanged")
            .and_then(|usn| usn.parse().ok())
            .ok_or_else(|| {
                DirectoryError::Invalid(format!("{} has no readable uSNChanged", entry.dn))
            })?,
        distinguished_name: Dn::parse(&entry.dn).map_err(|error| {
            DirectoryError::Invalid(format!("AD answered a DN Detour cannot read: {error}"))
        })?,
    })
}
