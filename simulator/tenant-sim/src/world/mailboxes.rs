//! The mailbox lifecycle around licences, deletion and restore [S26][S27][S39].

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Mailbox, MailboxState, World};

/// Why Exchange Online refused a mailbox change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("no mailbox for {0}")]
    NotFound(String),
    /// The mailbox's Exchange attributes come from on-premises [S37].
    #[error("out of write scope: {0} is synchronized from on-premises")]
    OutOfWriteScope(String),
    /// Another object holds the address [S14b].
    #[error("{address} is already used by {holder}")]
    ObjectConflict { address: String, holder: String },
    /// IsExchangeCloudManaged on a mailbox needs Entra Connect Sync 2.5.190.0 or later (current
    /// prerequisites; the preview's was 2.5.76.0) (domain-2026.md 2.1).
    #[error(
        "IsExchangeCloudManaged needs Entra Connect Sync 2.5.190.0 or later; this tenant runs {0}"
    )]
    ConnectTooOld(String),
    /// The switch: a mailbox whose Exchange attributes alone are cloud-managed may not take an
    /// address on the initial domain (unverified either way, domain-2026.md 8).
    #[error(
        "{address} is on the initial domain, which a synced user's cloud-managed mailbox cannot take"
    )]
    InitialDomainRefused { address: String },
}

/// The first Connect version whose mailboxes may be cloud-managed (domain-2026.md 2.1).
const CLOUD_MANAGED_MIN_VERSION: [u32; 4] = [2, 5, 190, 0];

pub(crate) fn version_at_least(version: &str, minimum: [u32; 4]) -> bool {
    let mut parts = [0u32; 4];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        *slot = part.trim().parse().unwrap_or(0);
    }
    parts >= minimum
}

/// A reconnecting mailbox is active once its time has come.
pub(super) fn effective_state(state: MailboxState, now: OffsetDateTime) -> MailboxState {
    match state {
        MailboxState::Reconnecting { due } if due <= now => MailboxState::Active,
        other => other,
    }
}

impl World {
    /// Brings the user's mailbox in line with the user: licensed users get theirs back after
    /// the reconnect delay, unlicensed ones lose it to the disconnected state, deleted ones to
    /// the soft-deleted state.
    pub fn reconcile_mailbox(&mut self, user_id: Uuid, now: OffsetDateTime) {
        let live = self.users.contains_key(&user_id);
        let licensed = live && self.has_exchange_license(user_id);
        let due = now + time::Duration::seconds_f64(self.mailbox_reconnect_seconds);
        let current = self
            .mailboxes
            .get(&user_id)
            .map(|m| effective_state(m.state, now));
        let next = match (live, licensed, current) {
            (false, _, Some(MailboxState::SoftDeleted { since })) => {
                MailboxState::SoftDeleted { since }
            }
            (false, _, Some(_)) => MailboxState::SoftDeleted { since: now },
            (false, _, None) => return,
            (true, true, None) => MailboxState::Reconnecting { due },
            (
                true,
                true,
                Some(state @ (MailboxState::Active | MailboxState::Reconnecting { .. })),
            ) => state,
            (true, true, Some(_)) => MailboxState::Reconnecting { due },
            (true, false, Some(MailboxState::Active | MailboxState::Reconnecting { .. })) => {
                MailboxState::Disconnected { since: now }
            }
            // Restored without a licence: the mailbox comes back disconnected [S26].
            (true, false, Some(MailboxState::SoftDeleted { .. })) => {
                MailboxState::Disconnected { since: now }
            }
            (true, false, Some(state)) => state,
            (true, false, None) => return,
        };
        let mailbox = self.mailboxes.entry(user_id).or_insert_with(|| Mailbox {
            user_id,
            exchange_guid: Uuid::new_v4(),
            state: next,
            is_exchange_cloud_managed: false,
        });
        mailbox.state = next;
    }
}

impl World {
    /// The user behind a mailbox identity: UPN, object id, primary address or alias.
    pub fn mailbox_owner(&self, identity: &str) -> Option<Uuid> {
        if let Some(user) = self.user(identity) {
            return Some(user.id);
        }
        self.users
            .values()
            .find(|u| {
                u.mail_nickname.eq_ignore_ascii_case(identity)
                    || self
                        .proxy_addresses(u)
                        .iter()
                        .any(|a| detour_contracts::address::same_address(a, identity))
            })
            .map(|u| u.id)
    }

    fn active_mailbox(&self, user_id: Uuid, now: OffsetDateTime) -> Result<&Mailbox, MailboxError> {
        match (
            self.mailboxes.get(&user_id),
            self.mailbox_state(user_id, now),
        ) {
            (Some(mailbox), Some(MailboxState::Active)) => Ok(mailbox),
            _ => Err(MailboxError::NotFound(user_id.to_string())),
        }
    }

    /// `Set-Mailbox -EmailAddresses @{Add=..; Remove=..}` [S28].
    pub fn change_email_addresses(
        &mut self,
        user_id: Uuid,
        add: &[String],
        remove: &[String],
        now: OffsetDateTime,
    ) -> Result<(), MailboxError> {
        let mailbox = self.active_mailbox(user_id, now)?;
        let user = &self.users[&user_id];
        if user.is_synced() && !mailbox.is_exchange_cloud_managed {
            return Err(MailboxError::OutOfWriteScope(
                user.user_principal_name.clone(),
            ));
        }
        let initial = format!("@{}", self.tenant.initial_domain);
        let refuses_initial = user.is_synced()
            && !self
                .switches
                .cloud_managed_mailbox_takes_initial_domain_address;
        for address in add {
            let bare = detour_contracts::address::bare(address);
            if refuses_initial && bare.to_ascii_lowercase().ends_with(&initial) {
                return Err(MailboxError::InitialDomainRefused {
                    address: bare.to_owned(),
                });
            }
            if let Some(holder) = self.address_holder(address, Some(user_id)) {
                return Err(MailboxError::ObjectConflict {
                    address: detour_contracts::address::bare(address).to_owned(),
                    holder: holder.user_principal_name.clone(),
                });
            }
        }
        let Some(user) = self.users.get_mut(&user_id) else {
            return Err(MailboxError::NotFound(user_id.to_string()));
        };
        let same = |a: &String, b: &String| detour_contracts::address::same_address(a, b);
        for address in remove {
            user.cloud_addresses.retain(|a| !same(a, address));
            user.on_premises_proxy_addresses
                .retain(|a| !same(a, address));
        }
        for address in add {
            if !user.cloud_addresses.iter().any(|a| same(a, address)) {
                // No prefix means smtp [S28].
                let typed = if address.contains(':') {
                    address.clone()
                } else {
                    format!("smtp:{address}")
                };
                user.cloud_addresses.push(typed);
            }
        }
        Ok(())
    }

    /// `Set-Mailbox -IsExchangeCloudManaged` [S36].
    pub fn set_exchange_cloud_managed(
        &mut self,
        user_id: Uuid,
        value: bool,
        now: OffsetDateTime,
    ) -> Result<(), MailboxError> {
        self.active_mailbox(user_id, now)?;
        // Cloud Sync honours the flag since 2026-01-23 (domain-2026.md 1.3); Connect from
        // 2.5.190.0.
        let honoured = self.connect.cloud_sync.is_some()
            || version_at_least(&self.connect.version, CLOUD_MANAGED_MIN_VERSION);
        if value && !honoured {
            return Err(MailboxError::ConnectTooOld(self.connect.version.clone()));
        }
        if let Some(mailbox) = self.mailboxes.get_mut(&user_id) {
            mailbox.is_exchange_cloud_managed = value;
        }
        if value && let Some(user) = self.users.get_mut(&user_id) {
            user.addresses_before_cloud_managed
                .get_or_insert_with(|| user.cloud_addresses.clone());
        }
        Ok(())
    }
}
