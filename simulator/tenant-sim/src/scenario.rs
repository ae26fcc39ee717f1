//! A scenario: the tenant, its licences, groups and roles, the AD objects to create in the real
//! directory, and cloud-side facts that no sync produces (usage locations, addresses the cloud
//! holds, direct licences, cloud-only users). Loaded from JSON.

use std::collections::{BTreeMap, BTreeSet};

use detour_contracts::connect_agent::PolicyType;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    ad::{AdGroupSpec, AdUserSpec},
    world::{
        CloudUser, ConnectState, DirectoryRole, Group, MailboxState, ProvisioningError, Sku,
        Switches, SyncFeatures, TenantInfo, World,
    },
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub tenant: TenantInfo,
    #[serde(default)]
    pub features: SyncFeatures,
    #[serde(default)]
    pub switches: Switches,
    pub connect: ConnectSpec,
    #[serde(default)]
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    #[serde(default)]
    pub ad: AdSpec,
    #[serde(default)]
    pub cloud_users: Vec<CloudUserSpec>,
    pub apps: Vec<AppSpec>,
    /// The bearer key the Connect agent API accepts.
    pub agent_key: String,
    #[serde(default)]
    pub delays: Delays,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub tickets: crate::tickets::TicketsSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The identity service's app+tenant budget; by default it follows the tenant's size.
    pub graph_resource_units_per_10_seconds: Option<u32>,
}

impl Limits {
    /// The app+tenant budget for a tenant of `users` users, unless the scenario sets one:
    /// S (under 50 users) 3,500, M (50 to 500) 5,000, L (above 500) 8,000 [S9-limits].
    pub fn graph_resource_units(&self, users: usize) -> u32 {
        self.graph_resource_units_per_10_seconds
            .unwrap_or(match users {
                0..50 => 3500,
                50..=500 => 5000,
                _ => 8000,
            })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSpec {
    pub version: String,
    pub scope_ous: Vec<detour_contracts::Dn>,
    #[serde(default)]
    pub filter_attribute: Option<String>,
    #[serde(default = "default_filter_prefix")]
    pub filter_prefix: String,
    #[serde(default = "default_true")]
    pub deletion_threshold_enabled: bool,
    #[serde(default = "default_threshold")]
    pub deletion_threshold: u32,
    /// Scheduled cycles every this many seconds; 0 runs cycles only on request.
    #[serde(default)]
    pub interval_seconds: u64,
    #[serde(default)]
    pub staging_mode: bool,
    #[serde(default)]
    pub scheduler_suspended: bool,
    /// The tenant syncs with Cloud Sync (its provisioning agent) instead of a Connect server.
    #[serde(default)]
    pub cloud_sync: Option<crate::world::cloud_sync::CloudSyncSpec>,
}

fn default_filter_prefix() -> String {
    "NoSync".to_owned()
}

fn default_true() -> bool {
    true
}

/// Connect's accidental-delete threshold is 500 by default [S19].
fn default_threshold() -> u32 {
    500
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub display_name: String,
    /// For a group synced from AD: its DN; sync then manages the members.
    #[serde(default)]
    pub on_premises_distinguished_name: Option<String>,
    #[serde(default)]
    pub licenses: Vec<Uuid>,
    /// Members of a cloud group, by userPrincipalName.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub display_name: String,
    pub role_template_id: Uuid,
    /// By userPrincipalName.
    pub members: Vec<String>,
    /// Eligible for the role (PIM), by userPrincipalName.
    #[serde(default)]
    pub eligible: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdSpec {
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub users: Vec<AdUserSpec>,
    #[serde(default)]
    pub groups: Vec<AdGroupSpec>,
}

/// Cloud-side facts about a user, synced or cloud-only (created when no sync produced it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudUserSpec {
    pub user_principal_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub usage_location: Option<String>,
    /// Addresses the cloud holds, e.g. a coexistence address stamped long ago.
    #[serde(default)]
    pub cloud_addresses: Vec<String>,
    #[serde(default)]
    pub direct_licenses: Vec<Uuid>,
    /// What sync could not write for this user.
    #[serde(default)]
    pub provisioning_errors: Vec<ProvisioningError>,
    /// The user has no MOERA (`alias@tenant.onmicrosoft.com`): the evotec write-up's case.
    #[serde(default)]
    pub without_moera: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub client_id: Uuid,
    pub client_secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Delays {
    /// Entra's tokens last about an hour (`expires_in` 3599) [S12].
    pub token_lifetime_seconds: u64,
    /// License to reconnected mailbox: UNCONFIRMED in the sources, so configurable [S26].
    pub mailbox_reconnect_seconds: f64,
    /// How long one sync cycle runs; requests meanwhile get "busy" [S40].
    pub cycle_seconds: f64,
    /// How long a write takes to become visible to reads [S13]; 0 for none.
    pub replication_lag_seconds: f64,
}

impl Default for Delays {
    fn default() -> Self {
        Self {
            token_lifetime_seconds: 3599,
            mailbox_reconnect_seconds: 120.0,
            cycle_seconds: 30.0,
            replication_lag_seconds: 0.0,
        }
    }
}

impl Scenario {
    /// The AD domain the scope lies in (`corp.example.com`), which names a Cloud Sync
    /// configuration.
    pub fn ad_domain(&self) -> String {
        self.connect
            .scope_ous
            .first()
            .map(|ou| crate::adsync::domain_of(&ou.to_string()))
            .unwrap_or_default()
    }

    /// The world before any sync: tenant, features, switches, SKUs, groups, roles, Connect.
    pub fn empty_world(&self) -> World {
        let groups = self
            .groups
            .iter()
            .map(|spec| {
                let id = Uuid::new_v4();
                (
                    id,
                    Group {
                        id,
                        display_name: spec.display_name.clone(),
                        on_premises_distinguished_name: spec.on_premises_distinguished_name.clone(),
                        members: BTreeSet::new(),
                        licenses: spec.licenses.clone(),
                    },
                )
            })
            .collect();
        let roles = self
            .roles
            .iter()
            .map(|spec| DirectoryRole {
                id: Uuid::new_v4(),
                display_name: spec.display_name.clone(),
                role_template_id: spec.role_template_id,
                members: BTreeSet::new(),
                eligible: BTreeSet::new(),
            })
            .collect();
        let connect = &self.connect;
        World {
            tenant: self.tenant.clone(),
            features: self.features.clone(),
            switches: self.switches.clone(),
            users: BTreeMap::new(),
            deleted_users: BTreeMap::new(),
            groups,
            skus: self.skus.clone(),
            roles,
            mailboxes: BTreeMap::new(),
            connect: ConnectState {
                version: connect.version.clone(),
                sync_cycle_enabled: true,
                staging_mode_enabled: connect.staging_mode,
                scheduler_suspended: connect.scheduler_suspended,
                interval_seconds: connect.interval_seconds,
                next_policy_type: PolicyType::Delta,
                running: None,
                deletion_threshold_enabled: connect.deletion_threshold_enabled,
                deletion_threshold: connect.deletion_threshold,
                scope_ous: connect.scope_ous.clone(),
                filter_attribute: connect.filter_attribute.clone(),
                filter_prefix: connect.filter_prefix.clone(),
                connector_space: BTreeMap::new(),
                runs: Vec::new(),
                cloud_sync: connect
                    .cloud_sync
                    .as_ref()
                    .map(|spec| crate::world::cloud_sync::CloudSync::new(spec, &self.ad_domain())),
            },
            mailbox_reconnect_seconds: self.delays.mailbox_reconnect_seconds,
            effects: Default::default(),
        }
    }

    /// After the first sync: the cloud-side facts, role and cloud group members, and every
    /// mailbox settled (a scenario starts from a tenant at rest).
    pub fn apply_cloud_side(&self, world: &mut World, now: OffsetDateTime) -> anyhow::Result<()> {
        for spec in &self.cloud_users {
            let id = match world.user(&spec.user_principal_name) {
                Some(user) => user.id,
                None => create_cloud_only(world, spec, now),
            };
            let Some(user) = world.users.get_mut(&id) else {
                continue;
            };
            if spec.usage_location.is_some() {
                user.usage_location.clone_from(&spec.usage_location);
            }
            if spec.without_moera {
                let initial = format!("@{}", world.tenant.initial_domain);
                user.cloud_addresses
                    .retain(|a| !a.to_ascii_lowercase().ends_with(&initial));
            }
            user.cloud_addresses
                .extend(spec.cloud_addresses.iter().cloned());
            user.direct_licenses
                .extend(spec.direct_licenses.iter().copied());
            user.provisioning_errors
                .extend(spec.provisioning_errors.iter().cloned());
        }
        for (spec, role) in self.roles.iter().zip(world.roles.clone()) {
            for (upn, eligible) in spec
                .members
                .iter()
                .map(|upn| (upn, false))
                .chain(spec.eligible.iter().map(|upn| (upn, true)))
            {
                let id = world
                    .user_id(upn)
                    .map_err(|_| anyhow::anyhow!("role {}: no user {upn}", spec.display_name))?;
                if let Some(r) = world.roles.iter_mut().find(|r| r.id == role.id) {
                    if eligible {
                        r.eligible.insert(id);
                    } else {
                        r.members.insert(id);
                    }
                }
            }
        }
        let group_ids: Vec<Uuid> = world.groups.keys().copied().collect();
        for (spec, group_id) in self.groups.iter().zip(group_ids) {
            for upn in &spec.members {
                let id = world
                    .user_id(upn)
                    .map_err(|_| anyhow::anyhow!("group {}: no user {upn}", spec.display_name))?;
                if let Some(group) = world.groups.get_mut(&group_id) {
                    group.members.insert(id);
                }
            }
        }
        let ids: Vec<Uuid> = world.users.keys().copied().collect();
        for id in ids {
            world.reconcile_mailbox(id, now);
        }
        for mailbox in world.mailboxes.values_mut() {
            if matches!(mailbox.state, MailboxState::Reconnecting { .. }) {
                mailbox.state = MailboxState::Active;
            }
        }
        Ok(())
    }
}

fn create_cloud_only(world: &mut World, spec: &CloudUserSpec, now: OffsetDateTime) -> Uuid {
    let id = Uuid::new_v4();
    let nickname = spec
        .user_principal_name
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let moera = world.new_moera(&nickname);
    world.users.insert(
        id,
        CloudUser {
            id,
            user_principal_name: spec.user_principal_name.clone(),
            display_name: spec
                .display_name
                .clone()
                .unwrap_or_else(|| nickname.clone()),
            mail_nickname: nickname,
            mail: Some(spec.user_principal_name.clone()),
            usage_location: None,
            account_enabled: true,
            created_date_time: now,
            on_premises_sync_enabled: None,
            on_premises_immutable_id: None,
            on_premises_distinguished_name: None,
            on_premises_sam_account_name: None,
            on_premises_user_principal_name: None,
            on_premises_last_sync_date_time: None,
            on_premises_proxy_addresses: Vec::new(),
            cloud_addresses: vec![format!("SMTP:{}", spec.user_principal_name), moera],
            direct_licenses: Vec::new(),
            provisioning_errors: Vec::new(),
            cloud_managed: false,
            addresses_before_cloud_managed: None,
        },
    );
    id
}

#[cfg(test)]
mod tests {
    use super::Scenario;

    #[test]
    fn every_committed_scenario_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let scenario: Scenario =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                !scenario.apps.is_empty(),
                "{}: no app can get a token",
                path.display()
            );
            count += 1;
        }
        assert!(count > 0);
    }
}
