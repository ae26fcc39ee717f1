//! Microsoft Graph v1.0 over `detour-entra`: the reads and writes the remediation needs, each
//! Graph error classified once, by its `code` and never its message [S10].

use std::sync::Arc;

use crate::shared_read::SharedRead;
use detour_contracts::cloud_directory::{
    AddressHolder, CloudUserState, DeletedUserState, LicenseAssignment, SkuSeats, TenantRead,
};
use detour_entra::{AfterWrite, Answer, CallError, Caller, EntraSettings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const USER_FIELDS: &str = "id,userPrincipalName,mailNickname,onPremisesSyncEnabled,onPremisesImmutableId,\
onPremisesDistinguishedName,proxyAddresses,usageLocation,licenseAssignmentStates";
/// `$batch` takes at most 20 requests [S8].
const BATCH: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NoSeats(String),
    #[error("{0}")]
    Forbidden(String),
    /// A precondition of the command no longer holds: a late copy, answered without effect.
    #[error("stale: {0}")]
    Stale(String),
    /// Throttled, failing or unreachable after every retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for GraphError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Token(detour_entra::TokenError::Refused(reason)) => {
                GraphError::Forbidden(reason)
            }
            other => GraphError::Unavailable(other.to_string()),
        }
    }
}

/// How long one read of the tenant's sync features and seats serves every diagnosis: a burst
/// of a thousand remediations reads it once, not a thousand times (4 resource units each
/// [S9-limits]). Seat counts may be this stale; assigning a licence still fails on none.
const TENANT_READ_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct GraphClient {
    caller: Caller,
    base: String,
    tenant: Arc<SharedRead<TenantRead>>,
}

impl GraphClient {
    pub fn new(base_url: &str, entra: &EntraSettings) -> anyhow::Result<Self> {
        let budget = Arc::new(tokio::sync::Semaphore::new(entra.max_concurrent_calls));
        let caller = Caller::new(entra, "https://graph.microsoft.com/.default", budget)
            .map_err(anyhow::Error::msg)?;
        Ok(Self {
            caller,
            base: format!("{}/v1.0", base_url.trim_end_matches('/')),
            tenant: Arc::new(SharedRead::new(TENANT_READ_MAX_AGE)),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        after_write: AfterWrite,
    ) -> Result<Answer, GraphError> {
        let url = format!("{}{path}", self.base);
        Ok(self
            .caller
            .send(
                |http| {
                    let request = http.request(method.clone(), &url);
                    match &body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                },
                after_write,
            )
            .await?)
    }

    /// A call that changes nothing and must succeed: its body, or why it failed.
    async fn read(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, GraphError> {
        let answer = self.call(method, path, body, AfterWrite::No).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(classify(&answer))
        }
    }

    pub async fn user(
        &self,
        id_or_upn: &str,
        with_admin_roles: bool,
    ) -> Result<Option<CloudUserState>, GraphError> {
        self.user_read(id_or_upn, AfterWrite::No, with_admin_roles)
            .await
    }

    /// The user, read right after our own write to it (a restore): a 404 may be replication
    /// lag and is retried before it counts [S13].
    pub async fn user_after_write(&self, id: Uuid) -> Result<Option<CloudUserState>, GraphError> {
        self.user_read(&id.to_string(), AfterWrite::Yes, false)
            .await
    }

    async fn user_read(
        &self,
        id_or_upn: &str,
        after_write: AfterWrite,
        with_admin_roles: bool,
    ) -> Result<Option<CloudUserState>, GraphError> {
        let path = format!("/users/{}?$select={USER_FIELDS}", segment(id_or_upn));
        let answer = self
            .call(reqwest::Method::GET, &path, None, after_write)
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let roles = self
                    .admin_roles_if(with_admin_roles, &answer.body["id"])
                    .await?;
                Ok(Some(to_state(&answer.body, roles)?))
            }
            _ => Err(classify(&answer)),
        }
    }

    async fn admin_roles_if(
        &self,
        wanted: bool,
        id: &Value,
    ) -> Result<Option<Vec<String>>, GraphError> {
        if wanted {
            self.admin_roles(id).await.map(Some)
        } else {
            Ok(None)
        }
    }

    async fn admin_roles(&self, id: &Value) -> Result<Vec<String>, GraphError> {
        let id = id.as_str().unwrap_or_default();
        let body = self
            .read(reqwest::Method::GET, &format!("/users/{id}/memberOf"), None)
            .await?;
        Ok(body["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["@odata.type"] == "#microsoft.graph.directoryRole")
            .filter_map(|m| m["displayName"].as_str().map(str::to_owned))
            .collect())
    }

    /// Many users through `$batch`, 20 per request, each item's status handled on its own.
    pub async fn users(
        &self,
        ids_or_upns: &[String],
        with_admin_roles: bool,
    ) -> Result<Vec<Option<CloudUserState>>, GraphError> {
        let mut found = Vec::with_capacity(ids_or_upns.len());
        for chunk in ids_or_upns.chunks(BATCH) {
            let requests: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, user)| json!({ "id": i.to_string(), "method": "GET", "url": format!("/users/{}?$select={USER_FIELDS}", segment(user)) }))
                .collect();
            let body = self
                .read(
                    reqwest::Method::POST,
                    "/$batch",
                    Some(json!({ "requests": requests })),
                )
                .await?;
            let responses = body["responses"].as_array().cloned().unwrap_or_default();
            for (index, user) in chunk.iter().enumerate() {
                let id = index.to_string();
                let item = responses
                    .iter()
                    .find(|r| r["id"].as_str() == Some(id.as_str()))
                    .cloned()
                    .unwrap_or(Value::Null);
                let status = item["status"].as_u64().unwrap_or(0);
                match status {
                    200 => {
                        let roles = self
                            .admin_roles_if(with_admin_roles, &item["body"]["id"])
                            .await?;
                        found.push(Some(to_state(&item["body"], roles)?));
                    }
                    404 => found.push(None),
                    // A throttled or failed item: read it alone, with the caller's retries.
                    _ => found.push(self.user(user, with_admin_roles).await?),
                }
            }
        }
        Ok(found)
    }

    /// Live users whose proxyAddresses hold `address` as a primary or secondary SMTP
    /// address (one filter per prefix: case-insensitive matching of proxyAddresses is not
    /// documented [S4]).
    pub async fn address_holders(&self, address: &str) -> Result<Vec<AddressHolder>, GraphError> {
        let bare = detour_contracts::address::bare(address).replace('\'', "''");
        let mut holders: Vec<AddressHolder> = Vec::new();
        for prefix in ["smtp", "SMTP"] {
            let filter = format!("proxyAddresses/any(p:p eq '{prefix}:{bare}')");
            let path = format!(
                "/users?$filter={}&$select=id,userPrincipalName",
                segment(&filter)
            );
            let body = self.read(reqwest::Method::GET, &path, None).await?;
            for user in body["value"].as_array().into_iter().flatten() {
                let Ok(id) = text(&user["id"]).parse::<Uuid>() else {
                    continue;
                };
                if !holders.iter().any(|h| h.id == id) {
                    holders.push(AddressHolder {
                        id,
                        user_principal_name: text(&user["userPrincipalName"]),
                    });
                }
            }
        }
        Ok(holders)
    }

    pub async fn deleted_user(&self, id: Uuid) -> Result<Option<DeletedUserState>, GraphError> {
        let answer = self
            .call(
                reqwest::Method::GET,
                &format!("/directory/deletedItems/{id}"),
                None,
                AfterWrite::No,
            )
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(DeletedUserState {
                id,
                user_principal_name: text(&answer.body["userPrincipalName"]),
                deleted_date_time: text(&answer.body["deletedDateTime"]),
            })),
            _ => Err(classify(&answer)),
        }
    }

    /// The tenant's sync features and seats, shared by callers within a few seconds.
    pub async fn tenant(&self) -> Result<TenantRead, GraphError> {
        self.tenant.get(|| self.read_tenant()).await
    }

    async fn read_tenant(&self) -> Result<TenantRead, GraphError> {
        let sync = self
            .read(
                reqwest::Method::GET,
                "/directory/onPremisesSynchronization",
                None,
            )
            .await?;
        let features = typed::<wire::SyncList>("onPremisesSynchronization", sync)?
            .value
            .into_iter()
            .next()
            .ok_or_else(|| {
                GraphError::Invalid(
                    "the tenant has no onPremisesSynchronization object: is directory \
                     synchronization on?"
                        .into(),
                )
            })?
            .features;
        let skus = self
            .read(reqwest::Method::GET, "/subscribedSkus", None)
            .await?;
        let skus = typed::<wire::SkuList>("subscribedSkus", skus)?
            .value
            .into_iter()
            .map(|sku| SkuSeats {
                sku_id: sku.sku_id,
                sku_part_number: sku.sku_part_number,
                prepaid_units: sku.prepaid_units.enabled,
                consumed_units: sku.consumed_units,
            })
            .collect();
        Ok(TenantRead {
            block_soft_match_enabled: features.block_soft_match_enabled,
            block_cloud_object_takeover_through_hard_match_enabled: features
                .block_cloud_object_takeover_through_hard_match_enabled,
            skus,
        })
    }

    pub async fn restore(
        &self,
        id: Uuid,
        auto_reconcile: bool,
        new_upn: Option<&str>,
    ) -> Result<String, GraphError> {
        let mut body = json!({ "autoReconcileProxyConflict": auto_reconcile });
        if let Some(upn) = new_upn {
            body["newUserPrincipalName"] = json!(upn);
        }
        let path = format!("/directory/deletedItems/{id}/restore");
        let answer = self
            .call(reqwest::Method::POST, &path, Some(body), AfterWrite::No)
            .await?;
        if answer.status.is_success() {
            Ok(text(&answer.body["userPrincipalName"]))
        } else {
            Err(classify(&answer))
        }
    }

    pub async fn set_usage_location(&self, id: Uuid, location: &str) -> Result<(), GraphError> {
        let answer = self
            .call(
                reqwest::Method::PATCH,
                &format!("/users/{id}"),
                Some(json!({ "usageLocation": location })),
                AfterWrite::Yes,
            )
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(&answer))
        }
    }

    /// One licence added or removed; a 404 right after our own restore is retried [S13].
    pub async fn assign_license(
        &self,
        id: Uuid,
        add: Option<Uuid>,
        remove: Option<Uuid>,
    ) -> Result<(), GraphError> {
        let body = json!({
            "addLicenses": add.map(|sku| vec![json!({ "skuId": sku, "disabledPlans": [] })]).unwrap_or_default(),
            "removeLicenses": remove.into_iter().collect::<Vec<_>>(),
        });
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("/users/{id}/assignLicense"),
                Some(body),
                AfterWrite::Yes,
            )
            .await?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(classify(&answer))
        }
    }
}

/// A path segment: ids and UPNs percent-encoded, so `'`, `#`, `?`, `/` and `%` cannot change
/// the request.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Graph's answers as Detour reads them: only the fields it uses, none defaulted. A missing
/// feature flag or seat count decides a plan, so its absence is an error, never `false` or 0.
mod wire {
    use serde::Deserialize;
    use uuid::Uuid;

    #[derive(Debug, Deserialize)]
    pub struct SyncList {
        pub value: Vec<SyncObject>,
    }

    #[derive(Debug, Deserialize)]
    pub struct SyncObject {
        pub features: SyncFeatures,
    }

    /// `onPremisesDirectorySynchronizationFeature` [S17]: the two that decide whether a
    /// round trip can re-match its user.
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SyncFeatures {
        pub block_soft_match_enabled: bool,
        pub block_cloud_object_takeover_through_hard_match_enabled: bool,
    }

    #[derive(Debug, Deserialize)]
    pub struct SkuList {
        pub value: Vec<Sku>,
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
}

/// `body` as `T`, or an error naming what Graph left out.
fn typed<T: serde::de::DeserializeOwned>(what: &str, body: Value) -> Result<T, GraphError> {
    serde_json::from_value(body).map_err(|error| {
        GraphError::Invalid(format!(
            "Graph's {what} answer is not what Detour reads: {error}"
        ))
    })
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn to_state(user: &Value, admin_roles: Option<Vec<String>>) -> Result<CloudUserState, GraphError> {
    let id = user["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| GraphError::Invalid("Graph returned a user without an id".into()))?;
    let licenses = user["licenseAssignmentStates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|state| {
            Some(LicenseAssignment {
                sku_id: state["skuId"].as_str()?.parse().ok()?,
                assigned_by_group: state["assignedByGroup"]
                    .as_str()
                    .and_then(|g| g.parse().ok()),
                state: text(&state["state"]),
            })
        })
        .collect();
    Ok(CloudUserState {
        id,
        user_principal_name: text(&user["userPrincipalName"]),
        mail_nickname: user["mailNickname"].as_str().map(str::to_owned),
        on_premises_sync_enabled: user["onPremisesSyncEnabled"].as_bool(),
        on_premises_immutable_id: user["onPremisesImmutableId"].as_str().map(str::to_owned),
        on_premises_distinguished_name: user["onPremisesDistinguishedName"]
            .as_str()
            .map(str::to_owned),
        proxy_addresses: user["proxyAddresses"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        usage_location: user["usageLocation"].as_str().map(str::to_owned),
        licenses,
        admin_roles,
    })
}

/// A Graph error by its code [S10]; seat exhaustion is told apart, as a person fixes it
/// differently (buy seats) from other bad requests.
fn classify(answer: &Answer) -> GraphError {
    let code = answer.body["error"]["code"].as_str().unwrap_or_default();
    let message = answer.body["error"]["message"]
        .as_str()
        .map_or_else(|| answer.text.clone(), str::to_owned);
    let conflict = answer.body["error"]["details"]
        .as_array()
        .is_some_and(|details| details.iter().any(|d| d["code"] == "ObjectConflict"));
    let reason = format!("{code}: {message}");
    match answer.status {
        StatusCode::NOT_FOUND => GraphError::NotFound(reason),
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => GraphError::Forbidden(reason),
        _ if conflict => GraphError::Conflict(reason),
        _ if message.contains("does not have any available licenses") => {
            GraphError::NoSeats(reason)
        }
        _ => GraphError::Invalid(reason),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn features() -> Value {
        json!({ "value": [{ "features": {
            "blockSoftMatchEnabled": false,
            "blockCloudObjectTakeoverThroughHardMatchEnabled": true,
            "passwordSyncEnabled": true,
        } }] })
    }

    #[test]
    fn the_sync_features_are_read_as_given() {
        let list = typed::<wire::SyncList>("onPremisesSynchronization", features()).unwrap();
        let features = &list.value[0].features;
        assert!(!features.block_soft_match_enabled);
        assert!(features.block_cloud_object_takeover_through_hard_match_enabled);
    }

    #[test]
    fn a_missing_or_malformed_safety_field_is_an_error_not_false() {
        for field in [
            "blockSoftMatchEnabled",
            "blockCloudObjectTakeoverThroughHardMatchEnabled",
        ] {
            let mut missing = features();
            missing["value"][0]["features"]
                .as_object_mut()
                .unwrap()
                .remove(field);
            let error = typed::<wire::SyncList>("onPremisesSynchronization", missing).unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
            let mut null = features();
            null["value"][0]["features"][field] = Value::Null;
            assert!(typed::<wire::SyncList>("x", null).is_err(), "{field} null");
        }
    }

    #[test]
    fn a_sku_without_its_seat_counts_is_an_error_not_zero() {
        let sku = json!({ "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900",
            "skuPartNumber": "ENTERPRISEPACK", "prepaidUnits": { "enabled": 25 }, "consumedUnits": 3 });
        let read =
            typed::<wire::SkuList>("subscribedSkus", json!({ "value": [sku.clone()] })).unwrap();
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
            let error = typed::<wire::SkuList>("subscribedSkus", json!({ "value": [missing] }))
                .unwrap_err();
            assert!(error.to_string().contains(field), "{field}: {error}");
        }
    }
}
