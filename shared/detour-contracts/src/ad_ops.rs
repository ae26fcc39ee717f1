//! ad-ops's commands and events: find and snapshot a user in AD, move it between OUs (and back
//! to a recorded DN), set or clear the attribute Connect filters on. Every command answers
//! with its event, or with [`AdOpsCommandFailed`] saying why, in terms a person can act on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageKind, RoutingKey, Service};

macro_rules! ad_ops_message {
    ($type:ty, $name:literal, $kind:ident) => {
        impl Message for $type {
            const NAME: &'static str = $name;
            const VERSION: u32 = 1;
            const KIND: MessageKind = MessageKind::$kind;

            fn routing_key(&self) -> RoutingKey {
                match Self::KIND {
                    MessageKind::Command => RoutingKey::command(Service::AdOps, Self::NAME),
                    MessageKind::Event => {
                        RoutingKey::event(Service::AdOps, Self::NAME, Self::VERSION)
                    }
                }
            }
        }
    };
}

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
ad_ops_message!(FindUser, "find-user", Command);

/// What the saga records of the AD user before it changes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdUserSnapshot {
    pub object_guid: Uuid,
    pub distinguished_name: String,
    /// `mS-DS-ConsistencyGuid`, base64, when set.
    pub consistency_guid: Option<String>,
    pub user_principal_name: Option<String>,
    pub sam_account_name: String,
    pub proxy_addresses: Vec<String>,
    pub member_of: Vec<String>,
    pub admin_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFound {
    pub snapshot: AdUserSnapshot,
}
ad_ops_message!(UserFound, "user-found", Event);

/// Moves the user under `target_ou`, keeping its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveUser {
    pub object_guid: Uuid,
    pub target_ou: String,
}
ad_ops_message!(MoveUser, "move-user", Command);

/// Moves the user back to exactly `distinguished_name` (parent and name), e.g. as recorded in
/// a snapshot before the saga moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveUserToDn {
    pub object_guid: Uuid,
    pub distinguished_name: String,
}
ad_ops_message!(MoveUserToDn, "move-user-to-dn", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserMoved {
    pub object_guid: Uuid,
    pub from: String,
    pub to: String,
    /// It was already there: nothing changed.
    pub already_there: bool,
}
ad_ops_message!(UserMoved, "user-moved", Event);

/// Sets (or, with `value: None`, clears) the attribute Connect filters on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFilterAttribute {
    pub object_guid: Uuid,
    pub value: Option<String>,
}
ad_ops_message!(SetFilterAttribute, "set-filter-attribute", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterAttributeSet {
    pub object_guid: Uuid,
    pub attribute: String,
    pub value: Option<String>,
}
ad_ops_message!(FilterAttributeSet, "filter-attribute-set", Event);

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdOpsCommandFailed {
    /// The command's name, e.g. `move-user`.
    pub command: String,
    pub kind: AdFailureKind,
    pub reason: String,
}
ad_ops_message!(AdOpsCommandFailed, "ad-command-failed", Event);
