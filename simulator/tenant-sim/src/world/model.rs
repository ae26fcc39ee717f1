//! The tenant's objects as plain data: what Graph, Exchange Online and the Connect server would
//! hold. Field names follow the real APIs where an API shows them.

use std::collections::{BTreeMap, BTreeSet};

use detour_contracts::connect_agent::{PolicyType, RunResult};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: Uuid,
    /// The initial domain, e.g. `contoso.onmicrosoft.com`: home of the MOERA.
    pub initial_domain: String,
    /// The hybrid coexistence domain, e.g. `contoso.mail.onmicrosoft.com`.
    pub coexistence_domain: String,
    pub verified_domains: Vec<String>,
    /// Exchange Online's accepted domains; `None`: every domain above (a healthy hybrid). A
    /// tenant whose hybrid wizard never ran lacks the coexistence domain here.
    #[serde(default)]
    pub accepted_domains: Option<Vec<String>>,
}

impl TenantInfo {
    /// What `Get-AcceptedDomain` lists.
    pub fn accepted(&self) -> Vec<String> {
        self.accepted_domains.clone().unwrap_or_else(|| {
            let mut all = self.verified_domains.clone();
            all.push(self.initial_domain.clone());
            all.push(self.coexistence_domain.clone());
            all
        })
    }
}

/// `onPremisesDirectorySynchronization.features` [S17].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncFeatures {
    pub block_soft_match_enabled: bool,
    pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    /// `EnableSoftMatchOnUpn`: soft match may fall back to the UPN (off by default; once on,
    /// it cannot be turned off) (domain-2026.md 3.3).
    pub soft_match_on_upn_enabled: bool,
}

/// Behaviours the sources disagree on (domain.md section 5); Detour must pass under each.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// `tenant.mail.onmicrosoft.com` values in AD proxyAddresses reach the cloud ([S25]) instead
    /// of being discarded like every other reserved suffix ([S24], the seed's experience).
    pub coexistence_domain_syncs_from_ad: bool,
    /// A user restored from deletedItems still says `onPremisesSyncEnabled = true`
    /// ([S46-cloudonly]) instead of becoming cloud-only ([S46-infotechninja]).
    pub restored_user_stays_synced: bool,
    /// A restored user keeps its `onPremisesImmutableId`, so its return to scope is a hard match.
    pub restored_user_keeps_immutable_id: bool,
    /// Group-based licences follow group membership that sync manages, so a user that leaves
    /// scope loses them for good ([S38]); off, a restore gives synced group memberships back
    /// like any other ([S16]) and sync leaves such cloud-side members alone.
    pub synced_group_membership_drops_on_delete: bool,
    /// Exchange Online lets a mailbox whose Exchange attributes are cloud-managed take an
    /// address on the initial `tenant.onmicrosoft.com` domain (unverified, domain-2026.md 8).
    pub cloud_managed_mailbox_takes_initial_domain_address: bool,
    /// An address added in the cloud while the user (or its mailbox's Exchange attributes) was
    /// cloud-managed survives AD being the source again (the rollback of object-level source
    /// of authority, or `-IsExchangeCloudManaged $false`) instead of being overwritten by AD's
    /// values at the next sync (unverified, domain-2026.md 2.1, 3.4).
    pub cloud_address_survives_return_to_ad: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            coexistence_domain_syncs_from_ad: false,
            restored_user_stays_synced: false,
            restored_user_keeps_immutable_id: true,
            synced_group_membership_drops_on_delete: true,
            cloud_managed_mailbox_takes_initial_domain_address: true,
            cloud_address_survives_return_to_ad: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudUser {
    pub id: Uuid,
    pub user_principal_name: String,
    pub display_name: String,
    pub mail_nickname: String,
    pub mail: Option<String>,
    pub usage_location: Option<String>,
    pub account_enabled: bool,
    pub created_date_time: OffsetDateTime,
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_immutable_id: Option<String>,
    pub on_premises_distinguished_name: Option<String>,
    pub on_premises_sam_account_name: Option<String>,
    pub on_premises_user_principal_name: Option<String>,
    pub on_premises_last_sync_date_time: Option<OffsetDateTime>,
    /// proxyAddresses as AD last sent them, before the cloud's proxy calculation.
    pub on_premises_proxy_addresses: Vec<String>,
    /// Addresses only the cloud holds: the MOERA, and addresses added in Exchange Online.
    pub cloud_addresses: Vec<String>,
    pub direct_licenses: Vec<Uuid>,
    /// What sync could not write, as `onPremisesProvisioningErrors` shows it.
    #[serde(default)]
    pub provisioning_errors: Vec<ProvisioningError>,
    /// `onPremisesSyncBehavior.isCloudManaged`: the cloud is the user's source of authority
    /// and sync leaves it alone (domain-2026.md 3.4).
    #[serde(default)]
    pub cloud_managed: bool,
    /// The cloud-only addresses when the user (or its mailbox's Exchange attributes) was made
    /// cloud-managed: what AD's return leaves when the cloud's own additions do not survive
    /// it (the switch).
    #[serde(default)]
    pub addresses_before_cloud_managed: Option<Vec<String>>,
}

/// `onPremisesProvisioningError`: a value sync could not write (domain-2026.md 2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningError {
    /// `PropertyConflict`.
    pub category: String,
    /// `UserPrincipalName` or `ProxyAddress`.
    pub property_causing_error: String,
    pub value: String,
}

impl CloudUser {
    pub fn is_synced(&self) -> bool {
        self.on_premises_sync_enabled == Some(true)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedUser {
    pub user: CloudUser,
    pub deleted_date_time: OffsetDateTime,
    /// Deleted by Entra Connect: deletedItems then shows a prefixed UPN [S49].
    pub deleted_by_sync: bool,
    /// Group memberships at deletion, given back on restore [S16]: cloud groups always, synced
    /// groups unless sync owns their membership (the switch below).
    pub cloud_groups: Vec<Uuid>,
    pub synced_groups: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: Uuid,
    pub display_name: String,
    /// Set for a group synced from AD: sync then manages its members.
    pub on_premises_distinguished_name: Option<String>,
    pub members: BTreeSet<Uuid>,
    /// SKUs the group assigns to its members (group-based licensing).
    pub licenses: Vec<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sku {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub prepaid_units: u32,
    /// Whether the SKU includes an Exchange Online plan, so a licensed user has a mailbox.
    pub includes_exchange: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirectoryRole {
    pub id: Uuid,
    pub display_name: String,
    pub role_template_id: Uuid,
    pub members: BTreeSet<Uuid>,
    /// Eligible through Privileged Identity Management (not active until activated).
    #[serde(default)]
    pub eligible: BTreeSet<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum MailboxState {
    Active,
    /// Licence back; Exchange reconnects the mailbox after a delay (UNCONFIRMED how long, [S26]).
    Reconnecting {
        #[serde(with = "time::serde::rfc3339")]
        due: OffsetDateTime,
    },
    /// Licence gone: disabled, not listed, kept 30 days [S26].
    Disconnected {
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// The user is deleted: the mailbox is soft-deleted with it [S39].
    SoftDeleted {
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mailbox {
    pub user_id: Uuid,
    pub exchange_guid: Uuid,
    pub state: MailboxState,
    pub is_exchange_cloud_managed: bool,
}

/// What the Connect server remembers of an exported AD object (its connector space entry).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectorEntry {
    pub anchor: String,
    pub object_guid: Uuid,
    pub distinguished_name: String,
    pub cloud_object_id: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectState {
    pub version: String,
    pub sync_cycle_enabled: bool,
    pub staging_mode_enabled: bool,
    pub scheduler_suspended: bool,
    pub interval_seconds: u64,
    pub next_policy_type: PolicyType,
    pub running: Option<Uuid>,
    pub deletion_threshold_enabled: bool,
    pub deletion_threshold: u32,
    /// OUs in sync scope, by DN (compared case-insensitively) [S20].
    pub scope_ous: Vec<detour_contracts::Dn>,
    /// Attribute filtering: an object whose `filter_attribute` starts with `filter_prefix` is
    /// out of scope.
    pub filter_attribute: Option<String>,
    pub filter_prefix: String,
    /// Connector space, by source anchor.
    pub connector_space: BTreeMap<String, ConnectorEntry>,
    /// Newest last.
    pub runs: Vec<RunResult>,
    /// Set when the tenant syncs with Cloud Sync instead of a Connect server: the same engine
    /// runs on the job's schedule, and Graph's synchronization API stands where the Connect
    /// server's PowerShell does.
    #[serde(default)]
    pub cloud_sync: Option<super::cloud_sync::CloudSync>,
}
