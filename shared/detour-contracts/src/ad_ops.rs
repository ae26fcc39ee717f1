//! ad-ops's commands and events: find and snapshot a user in AD, move it between OUs (and back
//! to a recorded DN), set or clear the attribute Connect filters on. Every command answers
//! with its event, or with [`AdOpsCommandFailed`] saying why, in terms a person can act on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{address::ProxyAddress, dn::Dn, message::service_message};

/// How to find a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "kebab-case")]
pub enum UserLookup {
    UserPrincipalName(String),
    SamAccountName(String),
    ObjectGuid(Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindUser {
    pub lookup: UserLookup,
}
service_message!(FindUser, AdOps, "find-user", Command);

/// What the saga records of the AD user before it changes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdUserSnapshot {
    pub object_guid: Uuid,
    pub distinguished_name: Dn,
    /// `mS-DS-ConsistencyGuid`, base64, when set.
    pub consistency_guid: Option<String>,
    pub user_principal_name: Option<String>,
    pub sam_account_name: String,
    pub proxy_addresses: Vec<String>,
    pub member_of: Vec<String>,
    pub admin_description: Option<String>,
    /// `uSNChanged` on the DC that answered: it grows with every change to the object, so a
    /// command can be fenced on "nothing has changed since this snapshot".
    pub usn_changed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFound {
    pub snapshot: AdUserSnapshot,
}
service_message!(UserFound, AdOps, "user-found", Event);

/// Moves the user under `target_ou`, keeping its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveUser {
    pub object_guid: Uuid,
    pub target_ou: Dn,
    /// Move only while the object's `uSNChanged` is still this (from the snapshot taken just
    /// before): a late copy, arriving after the user was moved back or changed at all, is
    /// answered `stale` and moves nothing. A user already under `target_ou` is "already there"
    /// whatever its number (a repeat of the move itself).
    pub only_if_usn_changed: Option<u64>,
}
service_message!(MoveUser, AdOps, "move-user", Command);

/// Moves the user back to exactly `distinguished_name` (parent and name), e.g. as recorded in
/// a snapshot before the saga moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveUserToDn {
    pub object_guid: Uuid,
    pub distinguished_name: Dn,
}
service_message!(MoveUserToDn, AdOps, "move-user-to-dn", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMoved {
    pub object_guid: Uuid,
    pub from: Dn,
    pub to: Dn,
    /// It was already there: nothing changed.
    pub already_there: bool,
}
service_message!(UserMoved, AdOps, "user-moved", Event);

/// Sets (or, with `value: None`, clears) the attribute Connect filters on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFilterAttribute {
    pub object_guid: Uuid,
    pub value: Option<String>,
}
service_message!(SetFilterAttribute, AdOps, "set-filter-attribute", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterAttributeSet {
    pub object_guid: Uuid,
    pub attribute: String,
    pub value: Option<String>,
}
service_message!(FilterAttributeSet, AdOps, "filter-attribute-set", Event);

/// Adds `address` to the user's `proxyAddresses`, as Microsoft's fix for a missing routing
/// address does on-premises [S2026-3.2]. A value already there (in any case) is "already"; with
/// `only_if_usn_changed`, a user changed since the snapshot is refused `stale` and nothing is
/// written (a late copy after the saga removed the value must not put it back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddProxyAddress {
    pub object_guid: Uuid,
    pub address: ProxyAddress,
    pub only_if_usn_changed: Option<u64>,
}
service_message!(AddProxyAddress, AdOps, "add-proxy-address", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyAddressAdded {
    pub object_guid: Uuid,
    pub address: ProxyAddress,
    /// It was there already: nothing changed.
    pub already_present: bool,
}
service_message!(ProxyAddressAdded, AdOps, "proxy-address-added", Event);

/// Removes exactly `address` from the user's `proxyAddresses` (matched case-insensitively, as
/// AD compares them); a value not there is "already absent".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveProxyAddress {
    pub object_guid: Uuid,
    pub address: ProxyAddress,
}
service_message!(RemoveProxyAddress, AdOps, "remove-proxy-address", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyAddressRemoved {
    pub object_guid: Uuid,
    pub address: ProxyAddress,
    pub already_absent: bool,
}
service_message!(ProxyAddressRemoved, AdOps, "proxy-address-removed", Event);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdFailureKind {
    /// The command's input does not parse (a bad DN, UPN or GUID).
    Invalid,
    NotFound,
    /// Something else already holds the name or value.
    Conflict,
    /// The service account may not do this.
    Forbidden,
    /// The command's precondition no longer holds (a late copy): nothing was done.
    Stale,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdOpsCommandFailed {
    /// The command's name, e.g. `move-user`.
    pub command: String,
    pub kind: AdFailureKind,
    pub reason: String,
}
service_message!(AdOpsCommandFailed, AdOps, "ad-command-failed", Event);
