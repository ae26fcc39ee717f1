//! The LDAP side of the simulator: what the Connect server's AD connector reads on each cycle,
//! and the scenario's objects created in the real directory. TLS is verified against the
//! configured CA, never switched off.

use std::{collections::HashSet, path::PathBuf, time::Duration};

use anyhow::{Context, ensure};
use detour_config::{Problems, Secret};
use detour_ldap::Endpoint;
use ldap3::{Ldap, Scope, SearchEntry};
use serde::Deserialize;
use uuid::Uuid;

use crate::world::sync_engine::{AdGroup, AdSnapshot, AdUser};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdSettings {
    /// `ldaps://host:636`, or `ldap://host:389` with StartTLS.
    pub url: String,
    pub ca_file: PathBuf,
    pub bind_dn: String,
    /// Or `bind_password_file`.
    pub bind_password: Secret,
    /// Where the connector reads (the domain root, or a test's own OU).
    pub search_base: String,
}

impl AdSettings {
    pub fn validate(&self, problems: &mut Problems) {
        problems.check(
            self.url.starts_with("ldaps://") || self.url.starts_with("ldap://"),
            "ad.url",
            "must be an ldaps:// or ldap:// URL",
        );
        problems.check(
            self.ca_file.is_file(),
            "ad.ca_file",
            format!("{} is not a readable file", self.ca_file.display()),
        );
        problems.check(!self.bind_dn.is_empty(), "ad.bind_dn", "must not be empty");
        problems.check(
            !self.search_base.is_empty(),
            "ad.search_base",
            "must not be empty",
        );
    }
}

pub async fn bind(settings: &AdSettings) -> anyhow::Result<Ldap> {
    let endpoint = Endpoint::new(&settings.url, &settings.ca_file, Duration::from_secs(10))?;
    endpoint
        .bind(&settings.bind_dn, settings.bind_password.expose())
        .await
        .with_context(|| format!("bind as {}", settings.bind_dn))
}

/// Reads every user and group under the search base: one cycle's import.
pub async fn read_snapshot(
    settings: &AdSettings,
    filter_attribute: Option<&str>,
) -> anyhow::Result<AdSnapshot> {
    let mut ldap = bind(settings).await?;
    let mut attributes = vec![
        "objectGUID",
        "mS-DS-ConsistencyGuid",
        "sAMAccountName",
        "userPrincipalName",
        "displayName",
        "mail",
        "proxyAddresses",
    ];
    attributes.extend(filter_attribute);
    let (entries, _) = ldap
        .search(
            &settings.search_base,
            Scope::Subtree,
            "(&(objectCategory=person)(objectClass=user))",
            attributes,
        )
        .await?
        .success()?;
    let users = entries
        .into_iter()
        .map(SearchEntry::construct)
        .filter_map(|e| to_user(e, filter_attribute))
        .collect();
    let (entries, _) = ldap
        .search(
            &settings.search_base,
            Scope::Subtree,
            "(objectClass=group)",
            vec!["member"],
        )
        .await?
        .success()?;
    let groups = entries
        .into_iter()
        .map(SearchEntry::construct)
        .map(|e| AdGroup {
            members: e.attrs.get("member").cloned().unwrap_or_default(),
            distinguished_name: e.dn,
        })
        .collect();
    ldap.unbind().await?;
    Ok(AdSnapshot { users, groups })
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

fn first(entry: &SearchEntry, name: &str) -> Option<String> {
    entry.attrs.get(name).and_then(|v| v.first().cloned())
}

fn to_user(entry: SearchEntry, filter_attribute: Option<&str>) -> Option<AdUser> {
    let guid = binary(&entry, "objectGUID")?;
    let object_guid = Uuid::from_slice_le(&guid).ok()?;
    let attributes = filter_attribute
        .and_then(|name| first(&entry, name).map(|value| (name.to_ascii_lowercase(), value)))
        .into_iter()
        .collect();
    Some(AdUser {
        object_guid,
        consistency_guid: binary(&entry, "mS-DS-ConsistencyGuid"),
        sam_account_name: first(&entry, "sAMAccountName")?,
        user_principal_name: first(&entry, "userPrincipalName"),
        display_name: first(&entry, "displayName"),
        mail: first(&entry, "mail"),
        proxy_addresses: entry
            .attrs
            .get("proxyAddresses")
            .cloned()
            .unwrap_or_default(),
        attributes,
        distinguished_name: entry.dn,
    })
}

/// An AD object a scenario wants to exist.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdUserSpec {
    /// The OU (or container) DN the user lives in.
    pub ou: String,
    pub sam_account_name: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub proxy_addresses: Vec<String>,
}

impl AdUserSpec {
    pub fn dn(&self) -> String {
        format!("CN={},{}", self.display_name, self.ou)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdGroupSpec {
    pub dn: String,
    /// Members by sAMAccountName.
    #[serde(default)]
    pub members: Vec<String>,
}

/// Creates the OUs, users and groups that do not exist yet; existing ones are left alone, so
/// loading a scenario twice is harmless.
pub async fn ensure_objects(
    settings: &AdSettings,
    ous: &[String],
    users: &[AdUserSpec],
    groups: &[AdGroupSpec],
) -> anyhow::Result<()> {
    let mut ldap = bind(settings).await?;
    let mut sorted_ous = ous.to_vec();
    sorted_ous.sort_by_key(|dn| dn.matches(',').count());
    for dn in &sorted_ous {
        add_if_missing(
            &mut ldap,
            dn,
            vec![(
                "objectClass",
                HashSet::from(["organizationalUnit".to_owned()]),
            )],
        )
        .await?;
    }
    for user in users {
        let mut attrs = vec![
            ("objectClass", HashSet::from(["user".to_owned()])),
            (
                "sAMAccountName",
                HashSet::from([user.sam_account_name.clone()]),
            ),
            (
                "userPrincipalName",
                HashSet::from([user.user_principal_name.clone()]),
            ),
            ("displayName", HashSet::from([user.display_name.clone()])),
        ];
        if let Some(mail) = &user.mail {
            attrs.push(("mail", HashSet::from([mail.clone()])));
        }
        if !user.proxy_addresses.is_empty() {
            attrs.push((
                "proxyAddresses",
                user.proxy_addresses.iter().cloned().collect(),
            ));
        }
        add_if_missing(&mut ldap, &user.dn(), attrs).await?;
    }
    for group in groups {
        let members: HashSet<String> = group
            .members
            .iter()
            .filter_map(|sam| {
                users
                    .iter()
                    .find(|u| &u.sam_account_name == sam)
                    .map(AdUserSpec::dn)
            })
            .collect();
        let mut attrs = vec![("objectClass", HashSet::from(["group".to_owned()]))];
        if !members.is_empty() {
            attrs.push(("member", members));
        }
        add_if_missing(&mut ldap, &group.dn, attrs).await?;
    }
    ldap.unbind().await?;
    Ok(())
}

async fn add_if_missing(
    ldap: &mut Ldap,
    dn: &str,
    attrs: Vec<(&str, HashSet<String>)>,
) -> anyhow::Result<()> {
    let attrs: Vec<(String, HashSet<String>)> = attrs
        .into_iter()
        .map(|(name, values)| (name.to_owned(), values))
        .collect();
    let result = ldap.add(dn, attrs).await?;
    // 68: entryAlreadyExists.
    ensure!(
        result.rc == 0 || result.rc == 68,
        "cannot create {dn}: {result}"
    );
    Ok(())
}
