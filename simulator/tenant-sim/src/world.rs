//! The simulated tenant as plain data and pure functions over it: no I/O, time passed in.
//! HTTP handlers lock the world, call these, and render the result in each API's shape.

mod addresses;
pub mod cloud_sync;
mod licensing;
mod lifecycle;
mod mailboxes;
pub mod model;
mod source_of_authority;
pub mod sync_engine;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) use addresses::primary_smtp;
pub use licensing::LicenseState;
pub use mailboxes::MailboxError;
pub(crate) use mailboxes::version_at_least;
pub use model::*;

/// A refusal from the model, classified so each API can render it in its own error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    #[error(
        "Resource '{0}' does not exist or one of its queried reference-property objects are not present."
    )]
    NotFound(String),
    /// Another object already holds a unique value (`target` names the property).
    #[error("Another object with the same value for property {target} already exists.")]
    Conflict { target: &'static str, value: String },
    #[error("{0}")]
    BadRequest(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub tenant: TenantInfo,
    pub features: SyncFeatures,
    pub switches: Switches,
    pub users: BTreeMap<Uuid, CloudUser>,
    pub deleted_users: BTreeMap<Uuid, DeletedUser>,
    pub groups: BTreeMap<Uuid, Group>,
    pub skus: Vec<Sku>,
    pub roles: Vec<DirectoryRole>,
    pub mailboxes: BTreeMap<Uuid, Mailbox>,
    pub connect: ConnectState,
    /// How long Exchange takes to reconnect a mailbox once its user is licensed again.
    pub mailbox_reconnect_seconds: f64,
    /// What was done to each cloud user, counted: a test sees whether anything was done twice.
    #[serde(default)]
    pub effects: BTreeMap<Uuid, Effects>,
}

/// The changes made to one cloud user, each counted when it happens (a repeat that changes
/// nothing is not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    pub soft_deleted: u32,
    pub restored: u32,
    pub direct_licenses_added: u32,
    pub direct_licenses_removed: u32,
    /// Made cloud-managed (object-level source of authority to the cloud).
    #[serde(default)]
    pub made_cloud_managed: u32,
    /// Taken back by AD after a rollback of source of authority.
    #[serde(default)]
    pub taken_back_by_ad: u32,
}

impl World {
    /// A live user by object id or userPrincipalName (case-insensitive), as Graph accepts both.
    pub fn user(&self, id_or_upn: &str) -> Option<&CloudUser> {
        match Uuid::parse_str(id_or_upn) {
            Ok(id) => self.users.get(&id),
            Err(_) => self
                .users
                .values()
                .find(|u| u.user_principal_name.eq_ignore_ascii_case(id_or_upn)),
        }
    }

    pub fn user_id(&self, id_or_upn: &str) -> Result<Uuid, WorldError> {
        self.user(id_or_upn)
            .map(|u| u.id)
            .ok_or_else(|| WorldError::NotFound(id_or_upn.to_owned()))
    }

    /// The user's proxyAddresses as Graph shows them (see `addresses`).
    pub fn proxy_addresses(&self, user: &CloudUser) -> Vec<String> {
        addresses::proxy_addresses(user, &self.tenant, &self.switches)
    }

    /// The live user other than `except` that holds `address` (as a proxy address or UPN).
    pub fn address_holder(&self, address: &str, except: Option<Uuid>) -> Option<&CloudUser> {
        let bare = detour_contracts::address::bare(address);
        self.users
            .values()
            .filter(|u| Some(u.id) != except)
            .find(|u| {
                u.user_principal_name.eq_ignore_ascii_case(bare)
                    || self
                        .proxy_addresses(u)
                        .iter()
                        .any(|p| detour_contracts::address::same_address(p, bare))
            })
    }

    pub fn is_admin(&self, user_id: Uuid) -> bool {
        self.roles
            .iter()
            .any(|role| role.members.contains(&user_id))
    }

    /// Holds or is eligible for a privileged role: since 2026-07-01 hard match is blocked for
    /// such users (MC1263280; domain-2026.md 3.5).
    pub fn is_privileged(&self, user_id: Uuid) -> bool {
        self.is_admin(user_id)
            || self
                .roles
                .iter()
                .any(|role| role.eligible.contains(&user_id))
    }

    pub fn mailbox_state(&self, user_id: Uuid, now: OffsetDateTime) -> Option<MailboxState> {
        self.mailboxes
            .get(&user_id)
            .map(|mailbox| mailboxes::effective_state(mailbox.state, now))
    }

    /// Drops soft-deleted users past the 30-day retention [S1][S15].
    pub fn purge_expired(&mut self, now: OffsetDateTime) {
        let retention = time::Duration::days(30);
        let expired: Vec<Uuid> = self
            .deleted_users
            .iter()
            .filter(|(_, d)| now - d.deleted_date_time >= retention)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.deleted_users.remove(&id);
            self.mailboxes.remove(&id);
        }
    }
}
