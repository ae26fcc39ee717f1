//! Graph's answers as Detour reads them: only the fields it uses, none defaulted where a
//! decision rests on it. A missing feature flag, seat count, id or UPN is an error, never
//! `false`, 0 or "". `Option` marks what Graph really answers `null` for (a cloud-only user's
//! `onPremisesSyncEnabled`, a user with no usage location), and that meaning is decided here.

use detour_contracts::cloud_directory::{CloudUserState, LicenseAssignment, SkuSeats};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use crate::graph::GraphError;

/// `body` as `T`, or an error naming what Graph left out.
pub fn typed<T: DeserializeOwned>(what: &str, body: Value) -> Result<T, GraphError> {
    serde_json::from_value(body).map_err(|error| {
        GraphError::Invalid(format!(
            "Graph's {what} answer is not what Detour reads: {error}"
        ))
    })
}

/// `onPremisesSyncBehavior` of a user (domain-2026.md 3.4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncBehavior {
    pub is_cloud_managed: bool,
}

/// A collection: `{"value": [...]}`.
#[derive(Debug, Deserialize)]
pub struct List<T> {
    pub value: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct SyncObject {
    /// The object's id, which a write of its features addresses.
    pub id: String,
    pub features: SyncFeatures,
}

/// `onPremisesDirectorySynchronizationFeature` [S17]: the three that decide whether, and how, a
/// round trip can re-match its user.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncFeatures {
    pub block_soft_match_enabled: bool,
    pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    pub soft_match_on_upn_enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sku {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub prepaid_units: PrepaidUnits,
    pub consumed_units: u32,
}

#[derive(Debug, Deserialize)]
pub struct PrepaidUnits {
    pub enabled: u32,
}

impl From<Sku> for SkuSeats {
    fn from(sku: Sku) -> Self {
        SkuSeats {
            sku_id: sku.sku_id,
            sku_part_number: sku.sku_part_number,
            prepaid_units: sku.prepaid_units.enabled,
            consumed_units: sku.consumed_units,
        }
    }
}

/// A user with the properties of `USER_FIELDS`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub user_principal_name: String,
    pub mail_nickname: Option<String>,
    /// `null` for a cloud-only user (never synced, or no longer).
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_immutable_id: Option<String>,
    pub on_premises_distinguished_name: Option<String>,
    /// `null` for a user Connect never exported; always answered when selected.
    #[serde(with = "time::serde::rfc3339::option")]
    pub on_premises_last_sync_date_time: Option<time::OffsetDateTime>,
    /// `[]` for a user without addresses; Graph never leaves it out when selected.
    pub proxy_addresses: Vec<String>,
    pub usage_location: Option<String>,
    /// Which licences the user has, and from where (direct or a group) [S6].
    pub license_assignment_states: Vec<LicenseState>,
    /// `[]` when sync wrote everything (domain-2026.md 2.3).
    pub on_premises_provisioning_errors: Vec<OnPremisesProvisioningError>,
    pub service_provisioning_errors: Vec<ServiceProvisioningError>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesProvisioningError {
    pub category: Option<String>,
    pub property_causing_error: Option<String>,
    pub value: Option<String>,
}

/// Exchange Online's errors carry their detail as XML; the service is what a person needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceProvisioningError {
    pub service_instance: Option<String>,
    pub is_resolved: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseState {
    pub sku_id: Uuid,
    /// `null`: assigned directly.
    pub assigned_by_group: Option<Uuid>,
    pub state: String,
}

impl User {
    pub fn into_state(self, admin_roles: Option<Vec<String>>) -> CloudUserState {
        CloudUserState {
            id: self.id,
            user_principal_name: self.user_principal_name,
            mail_nickname: self.mail_nickname,
            on_premises_sync_enabled: self.on_premises_sync_enabled,
            on_premises_immutable_id: self.on_premises_immutable_id,
            on_premises_distinguished_name: self.on_premises_distinguished_name,
            proxy_addresses: self.proxy_addresses,
            usage_location: self.usage_location,
            licenses: self
                .license_assignment_states
                .into_iter()
                .map(|state| LicenseAssignment {
                    sku_id: state.sku_id,
                    assigned_by_group: state.assigned_by_group,
                    state: state.state,
                })
                .collect(),
            admin_roles,
            on_premises_last_sync: self.on_premises_last_sync_date_time,
            provisioning_errors: self
                .on_premises_provisioning_errors
                .into_iter()
                .map(|e| {
                    format!(
                        "{} on {}: {}",
                        e.category.unwrap_or_else(|| "an error".into()),
                        e.property_causing_error
                            .unwrap_or_else(|| "a property".into()),
                        e.value.unwrap_or_default()
                    )
                })
                .chain(
                    self.service_provisioning_errors
                        .into_iter()
                        .filter(|e| e.is_resolved != Some(true))
                        .map(|e| {
                            format!(
                                "a provisioning error in {}",
                                e.service_instance.unwrap_or_else(|| "a service".into())
                            )
                        }),
                )
                .collect(),
        }
    }
}

/// One of `memberOf`'s objects: a directory role, a group or an administrative unit.
#[derive(Debug, Deserialize)]
pub struct Membership {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
}

impl Membership {
    pub fn role_name(self) -> Option<String> {
        (self.odata_type == "#microsoft.graph.directoryRole")
            .then_some(self.display_name)
            .flatten()
    }
}

/// An eligible role assignment, with its role expanded.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Eligibility {
    pub role_definition: RoleDefinition,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    pub display_name: String,
}

/// A user as an address holder, or as `restore` and `deletedItems` answer it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    pub id: Uuid,
    pub user_principal_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedUser {
    pub user_principal_name: String,
    pub deleted_date_time: String,
}

/// `$batch`'s answer: one response per request, matched by id [S8].
#[derive(Debug, Deserialize)]
pub struct BatchAnswer {
    pub responses: Vec<BatchResponse>,
}

#[derive(Debug, Deserialize)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub body: Value,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn features() -> Value {
        json!({ "value": [{ "id": "0f6e5e2a-0000-4000-8000-00000000c0de", "features": {
            "blockSoftMatchEnabled": false,
            "blockCloudObjectTakeoverThroughHardMatchEnabled": true,
            "softMatchOnUpnEnabled": false,
            "passwordSyncEnabled": true,
        } }] })
    }

    #[test]
    fn the_sync_features_are_read_as_given() {
        let list = typed::<List<SyncObject>>("onPremisesSynchronization", features()).unwrap();
        let features = &list.value[0].features;
        assert!(!features.block_soft_match_enabled);
        assert!(features.block_cloud_object_takeover_through_hard_match_enabled);
    }

    #[test]
    fn a_missing_or_malformed_safety_field_is_an_error_not_false() {
        for field in [
            "blockSoftMatchEnabled",
            "blockCloudObjectTakeoverThroughHardMatchEnabled",
            "softMatchOnUpnEnabled",
        ] {
            let mut missing = features();
            missing["value"][0]["features"]
                .as_object_mut()
                .unwrap()
                .remove(field);
            let error =
                typed::<List<SyncObject>>("onPremisesSynchronization", missing).unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
            let mut null = features();
            null["value"][0]["features"][field] = Value::Null;
            assert!(
                typed::<List<SyncObject>>("x", null).is_err(),
                "{field} null"
            );
        }
    }

    #[test]
    fn a_sku_without_its_seat_counts_is_an_error_not_zero() {
        let sku = json!({ "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900",
            "skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": { "enabled": 25 }, "consumedUnits": 3 });
        let read = typed::<List<Sku>>("subscribedSkus", json!({ "value": [sku.clone()] })).unwrap();
        assert_eq!(
            (
                read.value[0].prepaid_units.enabled,
                read.value[0].consumed_units
            ),
            (25, 3)
        );
        for field in ["prepaidUnits", "consumedUnits", "skuId"] {
            let mut missing = sku.clone();
            missing.as_object_mut().unwrap().remove(field);
            let error =
                typed::<List<Sku>>("subscribedSkus", json!({ "value": [missing] })).unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
    }

    fn user() -> Value {
        json!({
            "id": "5a3f8e1c-0000-4000-8000-000000000001",
            "userPrincipalName": "ada@contoso.com",
            "mailNickname": "ada",
            "onPremisesSyncEnabled": true,
            "onPremisesImmutableId": "AAAA",
            "onPremisesDistinguishedName": "CN=Ada,OU=Staff,DC=corp",
            "onPremisesLastSyncDateTime": "2026-11-30T08:00:00Z",
            "proxyAddresses": ["SMTP:ada@contoso.com"],
            "usageLocation": null,
            "licenseAssignmentStates": [{ "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900",
                "assignedByGroup": null, "state": "Active" }],
            "onPremisesProvisioningErrors": [],
            "serviceProvisioningErrors": [],
        })
    }

    #[test]
    fn a_user_reads_with_nulls_where_graph_answers_null() {
        let state = typed::<User>("user", user()).unwrap().into_state(None);
        assert_eq!(state.on_premises_sync_enabled, Some(true));
        assert_eq!(state.usage_location, None);
        assert_eq!(state.licenses[0].assigned_by_group, None);
        let mut cloud_only = user();
        cloud_only["onPremisesSyncEnabled"] = Value::Null;
        let state = typed::<User>("user", cloud_only).unwrap().into_state(None);
        assert_eq!(state.on_premises_sync_enabled, None);
    }

    #[test]
    fn a_user_without_what_a_step_decides_on_is_an_error_not_a_default() {
        // Without an id no write could target it; without a UPN no soft match or re-match
        // could be judged; without its licences the temporary one could be given twice or a
        // group's removed; without its addresses the fix could not be verified.
        for field in [
            "id",
            "userPrincipalName",
            "proxyAddresses",
            "licenseAssignmentStates",
            "onPremisesProvisioningErrors",
        ] {
            let mut missing = user();
            missing.as_object_mut().unwrap().remove(field);
            let error = typed::<User>("user", missing).unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
        let mut bad_sku = user();
        bad_sku["licenseAssignmentStates"][0]["skuId"] = json!("not-a-guid");
        assert!(typed::<User>("user", bad_sku).is_err());
    }
}
