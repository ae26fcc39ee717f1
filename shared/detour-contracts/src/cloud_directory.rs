//! cloud-directory's commands and events (Microsoft Graph). Reads answer the current state,
//! "not found" included, because the saga's waits re-issue them until a condition holds;
//! writes check first, so a repeat answers "already" with no second effect.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::message::service_message;

/// A licence as the user holds it: directly (`assigned_by_group: None`) or through a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseAssignment {
    pub sku_id: Uuid,
    pub assigned_by_group: Option<Uuid>,
    /// `Active`, `ActiveWithError`, `Disabled`, `Error` [S6].
    pub state: String,
}

/// What the diagnosis needs of a cloud user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudUserState {
    pub id: Uuid,
    pub user_principal_name: String,
    pub mail_nickname: Option<String>,
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_immutable_id: Option<String>,
    pub on_premises_distinguished_name: Option<String>,
    pub proxy_addresses: Vec<String>,
    pub usage_location: Option<String>,
    pub licenses: Vec<LicenseAssignment>,
    /// Directory roles held: soft match refuses such users [S17]. `None`: not read (the
    /// request did not ask), which is not the same as "none held".
    pub admin_roles: Option<Vec<String>>,
    /// What sync or Exchange Online could not write for the user (`onPremisesProvisioningErrors`
    /// and `serviceProvisioningErrors`), each as a line a person can read.
    #[serde(default)]
    pub provisioning_errors: Vec<String>,
    /// When Connect last exported the user (`onPremisesLastSyncDateTime`): a write that must
    /// not follow a later export is fenced on it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub on_premises_last_sync: Option<time::OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadCloudUser {
    /// Object id or userPrincipalName.
    pub user: String,
    /// Whether to read the user's directory roles too (one more Graph call, 2 resource units
    /// [S9-limits]): the diagnosis needs them, a wait that re-reads the user does not.
    pub with_admin_roles: bool,
}
service_message!(ReadCloudUser, CloudDirectory, "read-cloud-user", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudUserRead {
    pub requested: String,
    /// `None`: no live user by that id or name (now).
    pub user: Option<CloudUserState>,
}
service_message!(CloudUserRead, CloudDirectory, "cloud-user-read", Event);

/// Reads many users at once (through Graph's `$batch`, 20 per request [S8]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadCloudUsers {
    pub users: Vec<String>,
    pub with_admin_roles: bool,
}
service_message!(ReadCloudUsers, CloudDirectory, "read-cloud-users", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudUsersRead {
    pub users: Vec<CloudUserRead>,
}
service_message!(CloudUsersRead, CloudDirectory, "cloud-users-read", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadDeletedUser {
    pub id: Uuid,
}
service_message!(
    ReadDeletedUser,
    CloudDirectory,
    "read-deleted-user",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedUserState {
    pub id: Uuid,
    /// As deletedItems shows it (Connect prefixes the object id [S49]).
    pub user_principal_name: String,
    pub deleted_date_time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedUserRead {
    pub id: Uuid,
    /// `None`: not soft-deleted (live, or gone for good).
    pub user: Option<DeletedUserState>,
}
service_message!(DeletedUserRead, CloudDirectory, "deleted-user-read", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadTenant {}
service_message!(ReadTenant, CloudDirectory, "read-tenant", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuSeats {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub prepaid_units: u32,
    pub consumed_units: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRead {
    pub block_soft_match_enabled: bool,
    pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    /// Soft match falls back to the UPN only where this is on; else it is by primary SMTP
    /// address alone (domain-2026.md 3.3).
    pub soft_match_on_upn_enabled: bool,
    pub skus: Vec<SkuSeats>,
}
service_message!(TenantRead, CloudDirectory, "tenant-read", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreUser {
    pub id: Uuid,
    /// Drop proxy addresses another live object now holds [S1].
    pub auto_reconcile_proxy_conflict: bool,
    /// When the old UPN is taken [S1].
    pub new_user_principal_name: Option<String>,
}
service_message!(RestoreUser, CloudDirectory, "restore-user", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRestored {
    pub id: Uuid,
    pub user_principal_name: String,
    /// It was live already: nothing was done.
    pub already_active: bool,
}
service_message!(UserRestored, CloudDirectory, "user-restored", Event);

/// Gives the user a direct licence for `sku_id`, first setting `usage_location` if the user
/// has none (a licence needs one [S3]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignLicense {
    pub user_id: Uuid,
    pub sku_id: Uuid,
    pub usage_location: Option<String>,
    /// Assign only while the user is cloud-only: the round trip's temporary licence is for the
    /// restored user, so a late copy of this command, after the user matched AD again, is
    /// answered `stale` and changes nothing.
    pub only_while_cloud_only: bool,
}
service_message!(AssignLicense, CloudDirectory, "assign-license", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseAssigned {
    pub user_id: Uuid,
    pub sku_id: Uuid,
    pub already_assigned: bool,
}
service_message!(LicenseAssigned, CloudDirectory, "license-assigned", Event);

/// Removes the user's direct licence for `sku_id`; a group's is never touched [S48].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveLicense {
    pub user_id: Uuid,
    pub sku_id: Uuid,
}
service_message!(RemoveLicense, CloudDirectory, "remove-license", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseRemoved {
    pub user_id: Uuid,
    pub sku_id: Uuid,
    pub already_absent: bool,
}
service_message!(LicenseRemoved, CloudDirectory, "license-removed", Event);

/// Finds the objects whose proxyAddresses hold `address` (with or without its `smtp:` prefix),
/// so an address is never added where another object already has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindAddressHolders {
    pub address: String,
}
service_message!(
    FindAddressHolders,
    CloudDirectory,
    "find-address-holders",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressHolder {
    pub id: Uuid,
    pub user_principal_name: String,
    /// In deleted items: it still holds the address until restored or purged.
    #[serde(default)]
    pub soft_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressHoldersFound {
    pub address: String,
    pub holders: Vec<AddressHolder>,
}
service_message!(
    AddressHoldersFound,
    CloudDirectory,
    "address-holders-found",
    Event
);

/// Makes the cloud the user's source of authority (`cloud_managed: true`; sync then leaves it
/// alone) or hands it back to AD (`false`; the next cycle takes it over)
/// (`onPremisesSyncBehavior`, domain-2026.md 3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetUserCloudManaged {
    pub user_id: Uuid,
    pub cloud_managed: bool,
    /// Only while the user's last export is still this one: a late copy of the hand-over,
    /// arriving after AD took the user back (a later export), is answered `stale`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub only_if_last_sync: Option<time::OffsetDateTime>,
}
service_message!(
    SetUserCloudManaged,
    CloudDirectory,
    "set-user-cloud-managed",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCloudManagedSet {
    pub user_id: Uuid,
    pub cloud_managed: bool,
    /// It was so already: nothing was written.
    pub already: bool,
}
service_message!(
    UserCloudManagedSet,
    CloudDirectory,
    "user-cloud-managed-set",
    Event
);

/// Sets the tenant's `blockCloudObjectTakeoverThroughHardMatchEnabled`, which the rollback of
/// a cloud-managed user lifts while AD takes the user back (domain-2026.md 3.4); `None` only
/// reads it, fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTakeoverBlock {
    pub enabled: Option<bool>,
}
service_message!(
    SetTakeoverBlock,
    CloudDirectory,
    "set-takeover-block",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeoverBlockSet {
    /// As it is now.
    pub enabled: bool,
    /// As it was before this command.
    pub previous: bool,
}
service_message!(
    TakeoverBlockSet,
    CloudDirectory,
    "takeover-block-set",
    Event
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudFailureKind {
    Invalid,
    NotFound,
    Conflict,
    Forbidden,
    /// No free seat for the SKU.
    NoSeats,
    /// The command's precondition no longer holds (a late copy): nothing was done.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudCommandFailed {
    pub command: String,
    pub kind: CloudFailureKind,
    pub reason: String,
}
service_message!(
    CloudCommandFailed,
    CloudDirectory,
    "cloud-command-failed",
    Event
);
