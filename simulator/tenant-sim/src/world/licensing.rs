//! Direct and group-based licences, seats, and assignment rules [S5][S6][S7][S48].

use std::collections::BTreeSet;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{World, WorldError};

/// One entry of `licenseAssignmentStates` [S6].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseState {
    pub sku_id: Uuid,
    /// `None` for a direct assignment, else the group it is inherited from.
    pub assigned_by_group: Option<Uuid>,
    pub state: &'static str,
    pub error: Option<&'static str>,
    pub disabled_plans: Vec<Uuid>,
}

impl World {
    pub fn license_states(&self, user_id: Uuid) -> Vec<LicenseState> {
        let Some(user) = self.users.get(&user_id) else {
            return Vec::new();
        };
        let direct = user.direct_licenses.iter().map(|sku| (*sku, None));
        let inherited = self
            .groups
            .values()
            .filter(|g| g.members.contains(&user_id))
            .flat_map(|g| g.licenses.iter().map(move |sku| (*sku, Some(g.id))));
        direct
            .chain(inherited)
            .map(|(sku_id, assigned_by_group)| LicenseState {
                sku_id,
                assigned_by_group,
                state: "Active",
                error: None,
                disabled_plans: Vec::new(),
            })
            .collect()
    }

    /// SKUs the user holds, directly or through a group; one seat each however many ways [S48].
    pub fn effective_skus(&self, user_id: Uuid) -> BTreeSet<Uuid> {
        self.license_states(user_id)
            .into_iter()
            .map(|s| s.sku_id)
            .collect()
    }

    pub fn consumed_units(&self, sku_id: Uuid) -> u32 {
        self.users
            .keys()
            .filter(|id| self.effective_skus(**id).contains(&sku_id))
            .count() as u32
    }

    pub fn has_exchange_license(&self, user_id: Uuid) -> bool {
        let skus = self.effective_skus(user_id);
        self.skus
            .iter()
            .any(|sku| sku.includes_exchange && skus.contains(&sku.sku_id))
    }

    /// PATCH `usageLocation`: an ISO 3166 alpha-2 code, required before licensing [S3].
    pub fn set_usage_location(&mut self, user_id: Uuid, location: &str) -> Result<(), WorldError> {
        if location.len() != 2 || !location.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(WorldError::BadRequest(format!(
                "Invalid value specified for property 'usageLocation' of resource 'User': {location:?}"
            )));
        }
        let user = self
            .users
            .get_mut(&user_id)
            .ok_or_else(|| WorldError::NotFound(user_id.to_string()))?;
        user.usage_location = Some(location.to_owned());
        Ok(())
    }

    /// `assignLicense` [S5]: every rule checked before anything changes.
    pub fn assign_license(
        &mut self,
        user_id: Uuid,
        add: &[Uuid],
        remove: &[Uuid],
        now: OffsetDateTime,
    ) -> Result<(), WorldError> {
        let user = self
            .users
            .get(&user_id)
            .ok_or_else(|| WorldError::NotFound(user_id.to_string()))?;
        let held = self.effective_skus(user_id);
        for sku_id in add.iter().chain(remove) {
            if !self.skus.iter().any(|s| s.sku_id == *sku_id) {
                return Err(WorldError::BadRequest(format!(
                    "License {sku_id} does not correspond to a valid company License."
                )));
            }
        }
        if !add.is_empty() && user.usage_location.as_deref().is_none_or(str::is_empty) {
            // The exact Graph text is UNCONFIRMED; this is the one Microsoft tools show [S5-notes].
            return Err(WorldError::BadRequest(
                "License assignment cannot be done for user with invalid usage location.".into(),
            ));
        }
        for sku in self.skus.iter().filter(|s| add.contains(&s.sku_id)) {
            if !held.contains(&sku.sku_id) && self.consumed_units(sku.sku_id) >= sku.prepaid_units {
                return Err(WorldError::BadRequest(format!(
                    "Subscription with SKU {} does not have any available licenses.",
                    sku.sku_id
                )));
            }
        }
        for sku_id in remove {
            if !user.direct_licenses.contains(sku_id) {
                return Err(WorldError::BadRequest(if held.contains(sku_id) {
                    // An inherited licence is changed on the group, never on the user [S48].
                    "User license is inherited from a group membership and it cannot be removed directly from the user.".into()
                } else {
                    format!("User does not have a corresponding license {sku_id}.")
                }));
            }
        }
        if let Some(user) = self.users.get_mut(&user_id) {
            let effects = self.effects.entry(user_id).or_default();
            let held = user.direct_licenses.len();
            user.direct_licenses.retain(|sku| !remove.contains(sku));
            effects.direct_licenses_removed += (held - user.direct_licenses.len()) as u32;
            for sku in add {
                if !user.direct_licenses.contains(sku) {
                    user.direct_licenses.push(*sku);
                    effects.direct_licenses_added += 1;
                }
            }
        }
        self.reconcile_mailbox(user_id, now);
        Ok(())
    }
}
