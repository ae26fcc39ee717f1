//! Soft deletion and the two ways back: restore through Graph [S1] and restore by sync when the
//! object's anchor returns to scope [S22].

use time::OffsetDateTime;
use uuid::Uuid;

use super::{DeletedUser, World, WorldError, addresses};

impl World {
    /// Moves a live user to deletedItems, with its mailbox [S16][S39]. Synced group memberships
    /// go (sync manages them); cloud-only ones are kept for a restore.
    pub(crate) fn soft_delete_user(&mut self, user_id: Uuid, now: OffsetDateTime) {
        let Some(user) = self.users.remove(&user_id) else {
            return;
        };
        let (mut cloud_groups, mut synced_groups) = (Vec::new(), Vec::new());
        for group in self
            .groups
            .values_mut()
            .filter(|g| g.members.contains(&user_id))
        {
            group.members.remove(&user_id);
            if group.on_premises_distinguished_name.is_none() {
                cloud_groups.push(group.id);
            } else {
                synced_groups.push(group.id);
            }
        }
        self.effects.entry(user_id).or_default().soft_deleted += 1;
        self.deleted_users.insert(
            user_id,
            DeletedUser {
                user,
                deleted_date_time: now,
                deleted_by_sync: true,
                cloud_groups,
                synced_groups,
            },
        );
        self.reconcile_mailbox(user_id, now);
    }

    /// `POST /directory/deletedItems/{id}/restore` [S1]: the UPN and proxy addresses must be
    /// free, unless a new UPN is given or proxy conflicts may be reconciled away.
    pub fn restore_user(
        &mut self,
        user_id: Uuid,
        auto_reconcile_proxy_conflict: bool,
        new_user_principal_name: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Uuid, WorldError> {
        let deleted = self
            .deleted_users
            .get(&user_id)
            .ok_or_else(|| WorldError::NotFound(user_id.to_string()))?;
        let upn = new_user_principal_name
            .unwrap_or(&deleted.user.user_principal_name)
            .to_owned();
        if self.address_holder(&upn, None).is_some() {
            return Err(WorldError::Conflict {
                target: "userPrincipalName",
                value: upn,
            });
        }
        let conflicts: Vec<String> = self
            .proxy_addresses(&deleted.user)
            .into_iter()
            .filter(|address| self.address_holder(address, None).is_some())
            .collect();
        if !conflicts.is_empty() && !auto_reconcile_proxy_conflict {
            return Err(WorldError::Conflict {
                target: "proxyAddresses",
                value: conflicts.join(", "),
            });
        }
        let Some(mut deleted) = self.deleted_users.remove(&user_id) else {
            return Err(WorldError::NotFound(user_id.to_string()));
        };
        let user = &mut deleted.user;
        user.user_principal_name = upn;
        let taken = |a: &String| {
            conflicts
                .iter()
                .any(|c| detour_contracts::address::same_address(c, a))
        };
        user.on_premises_proxy_addresses.retain(|a| !taken(a));
        user.cloud_addresses.retain(|a| !taken(a));
        if user.is_synced() {
            // Disputed: cloud-only at once, or still tagged as synced [S46].
            user.on_premises_sync_enabled = Some(self.switches.restored_user_stays_synced);
            if !self.switches.restored_user_keeps_immutable_id {
                user.on_premises_immutable_id = None;
            }
        }
        if self.switches.synced_group_membership_drops_on_delete {
            deleted.synced_groups.clear();
        }
        self.effects.entry(user_id).or_default().restored += 1;
        self.bring_back(deleted, now);
        Ok(user_id)
    }

    /// Restores a soft-deleted user whose anchor re-entered sync scope; it stays synced [S22].
    pub(crate) fn restore_by_sync(&mut self, user_id: Uuid, now: OffsetDateTime) {
        if let Some(mut deleted) = self.deleted_users.remove(&user_id) {
            // Synced memberships come back from AD with the next group export.
            deleted.synced_groups.clear();
            self.bring_back(deleted, now);
        }
    }

    fn bring_back(&mut self, deleted: DeletedUser, now: OffsetDateTime) {
        let user_id = deleted.user.id;
        for group_id in deleted.cloud_groups.iter().chain(&deleted.synced_groups) {
            if let Some(group) = self.groups.get_mut(group_id) {
                group.members.insert(user_id);
            }
        }
        self.users.insert(user_id, deleted.user);
        self.reconcile_mailbox(user_id, now);
    }

    /// Whether `mail_nickname`'s MOERA is free, else a variant with four digits [S24].
    pub fn new_moera(&self, mail_nickname: &str) -> String {
        let plain = addresses::moera(mail_nickname, &self.tenant);
        if self.address_holder(&plain, None).is_none() {
            return plain;
        }
        let digits = Uuid::new_v4().as_u128() % 10_000;
        addresses::moera(&format!("{mail_nickname}{digits:04}"), &self.tenant)
    }
}
