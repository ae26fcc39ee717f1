//! Object-level source of authority (domain-2026.md 3.4): a synced user made cloud-managed
//! through `onPremisesSyncBehavior`, which sync then leaves alone, and the documented rollback,
//! after which the next cycle lets AD take the user back (a takeover the tenant's
//! `blockCloudObjectTakeoverThroughHardMatchEnabled` blocks).

use detour_contracts::connect_agent::ObjectOutcome;
use uuid::Uuid;

use super::{CloudUser, World, WorldError};

/// Connect honours `blockOnPremisesSync` from this version on (domain-2026.md 3.4); an older
/// server keeps exporting, and the cloud refuses its writes.
pub const USER_SOA_FROM: [u32; 4] = [2, 5, 76, 0];

/// What sync does with an AD object whose cloud user is linked to it.
pub(super) enum Authority {
    /// AD is the source: export as usual.
    Ad,
    /// The cloud is: leave it alone, reported as this outcome and why.
    Cloud(ObjectOutcome, &'static str),
    /// The cloud let go of it: AD takes it back at this cycle, unless that is refused.
    Takeover,
}

impl World {
    /// `PATCH /users/{id}/onPremisesSyncBehavior {"isCloudManaged": value}`.
    pub fn set_user_cloud_managed(&mut self, user_id: Uuid, value: bool) -> Result<(), WorldError> {
        let user = self
            .users
            .get(&user_id)
            .ok_or_else(|| WorldError::NotFound(user_id.to_string()))?;
        if value == user.cloud_managed {
            return Ok(());
        }
        if value && user.on_premises_immutable_id.is_none() {
            return Err(WorldError::BadRequest(format!(
                "{} is not synchronized from on-premises: its source of authority is the cloud \
                 already",
                user.user_principal_name
            )));
        }
        let Some(user) = self.users.get_mut(&user_id) else {
            return Err(WorldError::NotFound(user_id.to_string()));
        };
        user.cloud_managed = value;
        if value {
            user.on_premises_sync_enabled = None;
            user.addresses_before_cloud_managed
                .get_or_insert_with(|| user.cloud_addresses.clone());
            self.effects.entry(user_id).or_default().made_cloud_managed += 1;
            // A full transfer clears the separate Exchange-attribute flag (domain-2026.md 3.4).
            if let Some(mailbox) = self.mailboxes.get_mut(&user_id) {
                mailbox.is_exchange_cloud_managed = false;
            }
        }
        Ok(())
    }

    /// Whose word counts for a linked user at this cycle.
    pub(super) fn authority(&self, user_id: Uuid) -> Authority {
        let Some(user) = self.users.get(&user_id) else {
            return Authority::Ad;
        };
        if user.cloud_managed {
            return if super::version_at_least(&self.connect.version, USER_SOA_FROM) {
                Authority::Cloud(
                    ObjectOutcome::Filtered,
                    "skipped: blockOnPremisesSync, the cloud is its source of authority (event \
                     6956)",
                )
            } else {
                Authority::Cloud(
                    ObjectOutcome::Error,
                    "export refused: the object's source of authority is the cloud, and this \
                     Connect version does not know blockOnPremisesSync",
                )
            };
        }
        if user.is_synced() {
            Authority::Ad
        } else {
            Authority::Takeover
        }
    }

    /// Why AD may not hard-match `user` (take it over) now, if it may not: for a cloud-only
    /// user the tenant's takeover block, for anyone the 2026 hardening for privileged users
    /// (domain-2026.md 3.4, 3.5).
    pub(super) fn hard_match_refusal(&self, user: &CloudUser) -> Option<String> {
        if !user.is_synced()
            && self
                .features
                .block_cloud_object_takeover_through_hard_match_enabled
        {
            return Some(
                "hard match blocked: BlockCloudObjectTakeoverThroughHardMatchEnabled is set".into(),
            );
        }
        self.is_privileged(user.id).then(|| {
            format!(
                "Hard match operation blocked due to security hardening: {} holds or is \
                 eligible for a privileged role",
                user.user_principal_name
            )
        })
    }

    /// AD takes the user back: the cloud's own additions go unless they survive (the switch).
    pub(super) fn take_back(&mut self, user_id: Uuid) {
        self.effects.entry(user_id).or_default().taken_back_by_ad += 1;
        self.ad_values_again(user_id);
    }

    /// AD's values are the source again (the user taken back, or its mailbox's Exchange
    /// attributes handed back): what the cloud added meanwhile goes, unless the switch says it
    /// survives. Nothing happens while either is still cloud-managed.
    pub(super) fn ad_values_again(&mut self, user_id: Uuid) {
        let survives = self.switches.cloud_address_survives_return_to_ad;
        let mailbox_cloud_managed = self
            .mailboxes
            .get(&user_id)
            .is_some_and(|m| m.is_exchange_cloud_managed);
        let Some(user) = self.users.get_mut(&user_id) else {
            return;
        };
        if user.cloud_managed || mailbox_cloud_managed {
            return;
        }
        if let (false, Some(before)) = (survives, user.addresses_before_cloud_managed.take()) {
            user.cloud_addresses = before;
        }
        user.addresses_before_cloud_managed = None;
    }
}
