//! The directory over LDAP (ldap3): TLS verified against the configured CA, a bind as the
//! service account, filter values escaped per RFC 4515, and one shared connection that is
//! dropped and rebuilt after a transport failure (a DC restart).

use std::{collections::HashSet, sync::Arc, time::Duration};

use base64::Engine;
use detour_config::Secret;
use detour_contracts::ad_ops::{AdUserSnapshot, UserLookup};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod, Scope, SearchEntry};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{directory::DirectoryError, dn::Dn, settings::LdapSettings};

const USER_FILTER: &str = "(objectCategory=person)(objectClass=user)";

#[derive(Debug)]
pub struct LdapDirectory {
    settings: LdapSettings,
    password: Secret,
    tls: Arc<rustls::ClientConfig>,
    connection: Mutex<Option<Ldap>>,
}

/// Where a user is and where it is to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: String,
    pub to: String,
    pub already_there: bool,
}

impl LdapDirectory {
    /// Reads the CA and the password now (start-up), connects on first use.
    pub fn new(settings: LdapSettings) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&settings.ca_file)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let password = settings.password()?;
        Ok(Self {
            settings,
            password,
            tls: Arc::new(tls),
            connection: Mutex::new(None),
        })
    }

    pub fn filter_attribute(&self) -> &str {
        &self.settings.filter_attribute
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
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_starttls(self.settings.url.starts_with("ldap://"))
            .set_conn_timeout(self.timeout());
        let (connection, mut ldap) =
            LdapConnAsync::with_settings(settings, &self.settings.url).await?;
        ldap3::drive!(connection);
        ldap.with_timeout(self.timeout())
            .simple_bind(&self.settings.bind_dn, self.password.expose())
            .await?
            .success()?;
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

    pub async fn find(&self, lookup: &UserLookup) -> Result<AdUserSnapshot, DirectoryError> {
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

    async fn exists(&self, dn: &str) -> Result<bool, DirectoryError> {
        let (dn, timeout) = (dn.to_owned(), self.timeout());
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

    /// Moves the user to `parent`, named `rdn`. Already there is success; a missing parent or
    /// a name taken there is a clear refusal.
    /// Moves the object to `rdn,parent`; with `only_if_usn_changed`, only while its uSNChanged
    /// is still that number (a move to where it already is succeeds regardless).
    pub async fn move_to(
        &self,
        guid: Uuid,
        parent: &Dn,
        rdn: &str,
        only_if_usn_changed: Option<u64>,
    ) -> Result<Moved, DirectoryError> {
        let current = self.find(&UserLookup::ObjectGuid(guid)).await?;
        let from = current.distinguished_name.clone();
        let target = format!("{rdn},{parent}");
        let from_dn = Dn::parse(&from).map_err(|e| {
            DirectoryError::Invalid(format!("AD returned an unparsable DN {from:?}: {e}"))
        })?;
        let target_dn = Dn::parse(&target).map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        if from_dn.same_as(&target_dn) {
            return Ok(Moved {
                from: from.clone(),
                to: from,
                already_there: true,
            });
        }
        if let Some(expected) = only_if_usn_changed
            && current.usn_changed != expected
        {
            return Err(DirectoryError::Stale(format!(
                "{from} changed since the snapshot (uSNChanged {} now, {expected} then): \
                 not moved",
                current.usn_changed
            )));
        }
        if !self.exists(&parent.to_string()).await? {
            return Err(DirectoryError::NotFound(format!(
                "the target {parent} does not exist"
            )));
        }
        let (rdn, parent_text, timeout) = (rdn.to_owned(), parent.to_string(), self.timeout());
        let moved = self
            .with_ldap(|mut ldap| {
                let from = from.clone();
                async move {
                    // AD requires the old RDN to be deleted when moving to a new parent.
                    ldap.with_timeout(timeout)
                        .modifydn(&from, &rdn, true, Some(&parent_text))
                        .await?
                        .success()?;
                    Ok(())
                }
            })
            .await;
        match moved {
            Ok(()) => Ok(Moved {
                from,
                to: target,
                already_there: false,
            }),
            Err(DirectoryError::Conflict(_)) => Err(DirectoryError::Conflict(format!(
                "another object is already named {target}"
            ))),
            Err(other) => Err(other),
        }
    }

    /// Sets the filter attribute to `value`, or clears it.
    pub async fn set_filter_attribute(
        &self,
        guid: Uuid,
        value: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let current = self.find(&UserLookup::ObjectGuid(guid)).await?;
        let attribute = self.settings.filter_attribute.clone();
        let values: HashSet<String> = value.map(str::to_owned).into_iter().collect();
        let timeout = self.timeout();
        self.with_ldap(|mut ldap| async move {
            ldap.with_timeout(timeout)
                .modify(
                    &current.distinguished_name,
                    vec![Mod::Replace(attribute, values)],
                )
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
        sam_account_name: first("sAMAccountName").unwrap_or_default(),
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
        distinguished_name: entry.dn.clone(),
    })
}
