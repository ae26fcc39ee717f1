//! The real [`Graph`]: Microsoft Graph v1.0 over `detour-entra`, each answer typed (`wire`) and
//! each Graph error classified once, by its `code` and never its message [S10].

mod wire;

use std::sync::Arc;

use detour_contracts::cloud_directory::{
    AddressHolder, CloudUserState, DeletedUserState, TenantRead,
};
use detour_entra::{AfterWrite, Answer, Caller, EntraSettings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use self::wire::typed;
use detour_service::SharedRead;

use crate::graph::{Graph, GraphError};

const USER_FIELDS: &str = "id,userPrincipalName,mailNickname,onPremisesSyncEnabled,onPremisesImmutableId,\
onPremisesDistinguishedName,onPremisesLastSyncDateTime,proxyAddresses,usageLocation,licenseAssignmentStates,\
onPremisesProvisioningErrors,serviceProvisioningErrors";
/// `$batch` takes at most 20 requests [S8].
const BATCH: usize = 20;

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
        let caller = Caller::for_graph(entra).map_err(anyhow::Error::msg)?;
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

    /// A call that must succeed: its body, or why it failed.
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

    /// A write that answers nothing Detour reads.
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
        after_write: AfterWrite,
    ) -> Result<Answer, GraphError> {
        let answer = self.call(method, path, Some(body), after_write).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(classify(&answer))
        }
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
            s if s.is_success() => self.state(answer.body, with_admin_roles).await.map(Some),
            _ => Err(classify(&answer)),
        }
    }

    /// A user's body as Detour's state, with its directory roles when asked for.
    async fn state(
        &self,
        body: Value,
        with_admin_roles: bool,
    ) -> Result<CloudUserState, GraphError> {
        let user = typed::<wire::User>("user", body)?;
        let roles = if with_admin_roles {
            Some(self.admin_roles(user.id).await?)
        } else {
            None
        };
        Ok(user.into_state(roles))
    }

    /// The directory roles the user holds, and those it is eligible for through PIM: since
    /// 2026-07-01 hard match is blocked for both (MC1263280; domain-2026.md 3.5).
    async fn admin_roles(&self, id: Uuid) -> Result<Vec<String>, GraphError> {
        let body = self
            .read(reqwest::Method::GET, &format!("/users/{id}/memberOf"), None)
            .await?;
        let mut roles: Vec<String> = typed::<wire::List<wire::Membership>>("memberOf", body)?
            .value
            .into_iter()
            .filter_map(wire::Membership::role_name)
            .collect();
        let filter = segment(&format!("principalId eq '{id}'"));
        let path = format!(
            "/roleManagement/directory/roleEligibilityScheduleInstances?$filter={filter}&$expand=roleDefinition"
        );
        let body = self.read(reqwest::Method::GET, &path, None).await?;
        roles.extend(
            typed::<wire::List<wire::Eligibility>>("roleEligibilityScheduleInstances", body)?
                .value
                .into_iter()
                .map(|eligible| format!("{} (eligible)", eligible.role_definition.display_name)),
        );
        Ok(roles)
    }

    /// The tenant's one `onPremisesDirectorySynchronization` object.
    async fn sync_object(&self) -> Result<wire::SyncObject, GraphError> {
        let sync = self
            .read(
                reqwest::Method::GET,
                "/directory/onPremisesSynchronization",
                None,
            )
            .await?;
        typed::<wire::List<wire::SyncObject>>("onPremisesSynchronization", sync)?
            .value
            .into_iter()
            .next()
            .ok_or_else(|| {
                GraphError::Invalid(
                    "the tenant has no onPremisesSynchronization object: is directory \
                     synchronization on?"
                        .into(),
                )
            })
    }

    async fn read_tenant(&self) -> Result<TenantRead, GraphError> {
        let features = self.sync_object().await?.features;
        let skus = self
            .read(reqwest::Method::GET, "/subscribedSkus", None)
            .await?;
        let skus = typed::<wire::List<wire::Sku>>("subscribedSkus", skus)?
            .value
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(TenantRead {
            block_soft_match_enabled: features.block_soft_match_enabled,
            block_cloud_object_takeover_through_hard_match_enabled: features
                .block_cloud_object_takeover_through_hard_match_enabled,
            soft_match_on_upn_enabled: features.soft_match_on_upn_enabled,
            skus,
        })
    }
}

impl Graph for GraphClient {
    async fn user(
        &self,
        id_or_upn: &str,
        with_admin_roles: bool,
    ) -> Result<Option<CloudUserState>, GraphError> {
        self.user_read(id_or_upn, AfterWrite::No, with_admin_roles)
            .await
    }

    async fn user_after_write(&self, id: Uuid) -> Result<Option<CloudUserState>, GraphError> {
        self.user_read(&id.to_string(), AfterWrite::Yes, false)
            .await
    }

    /// Through `$batch`, 20 per request, each item's status handled on its own.
    async fn users(
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
            let mut responses = typed::<wire::BatchAnswer>("$batch", body)?.responses;
            for (index, user) in chunk.iter().enumerate() {
                let id = index.to_string();
                let item = responses
                    .iter()
                    .position(|r| r.id == id)
                    .map(|at| responses.swap_remove(at));
                match item {
                    Some(item) if item.status == 200 => {
                        found.push(Some(self.state(item.body, with_admin_roles).await?));
                    }
                    Some(item) if item.status == 404 => found.push(None),
                    // Throttled, failed or missing: read it alone, with the caller's retries.
                    _ => found.push(self.user(user, with_admin_roles).await?),
                }
            }
        }
        Ok(found)
    }

    /// Live and soft-deleted users (a deleted one still holds its addresses, domain-2026.md
    /// 3.2), one filter per prefix: case-insensitive matching of proxyAddresses is not
    /// documented [S4].
    async fn address_holders(&self, address: &str) -> Result<Vec<AddressHolder>, GraphError> {
        let bare = detour_contracts::address::bare(address).replace('\'', "''");
        let mut holders: Vec<AddressHolder> = Vec::new();
        for (collection, soft_deleted) in [
            ("/users", false),
            ("/directory/deletedItems/microsoft.graph.user", true),
        ] {
            for prefix in ["smtp", "SMTP"] {
                let filter = format!("proxyAddresses/any(p:p eq '{prefix}:{bare}')");
                let path = format!(
                    "{collection}?$filter={}&$select=id,userPrincipalName",
                    segment(&filter)
                );
                let body = self.read(reqwest::Method::GET, &path, None).await?;
                for user in typed::<wire::List<wire::UserName>>("users", body)?.value {
                    if !holders.iter().any(|h| h.id == user.id) {
                        holders.push(AddressHolder {
                            id: user.id,
                            user_principal_name: user.user_principal_name,
                            soft_deleted,
                        });
                    }
                }
            }
        }
        Ok(holders)
    }

    async fn deleted_user(&self, id: Uuid) -> Result<Option<DeletedUserState>, GraphError> {
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
            s if s.is_success() => {
                let deleted = typed::<wire::DeletedUser>("deletedItems", answer.body)?;
                Ok(Some(DeletedUserState {
                    id,
                    user_principal_name: deleted.user_principal_name,
                    deleted_date_time: deleted.deleted_date_time,
                }))
            }
            _ => Err(classify(&answer)),
        }
    }

    /// Shared by callers within a few seconds.
    async fn tenant(&self) -> Result<TenantRead, GraphError> {
        self.tenant.get(|| self.read_tenant()).await
    }

    async fn restore(
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
            .write(reqwest::Method::POST, &path, body, AfterWrite::No)
            .await?;
        Ok(typed::<wire::UserName>("restore", answer.body)?.user_principal_name)
    }

    async fn set_usage_location(&self, id: Uuid, location: &str) -> Result<(), GraphError> {
        self.write(
            reqwest::Method::PATCH,
            &format!("/users/{id}"),
            json!({ "usageLocation": location }),
            AfterWrite::Yes,
        )
        .await
        .map(drop)
    }

    async fn user_cloud_managed(&self, id: Uuid) -> Result<Option<bool>, GraphError> {
        let path = format!("/users/{id}/onPremisesSyncBehavior");
        let answer = self
            .call(reqwest::Method::GET, &path, None, AfterWrite::No)
            .await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                typed::<wire::SyncBehavior>("onPremisesSyncBehavior", answer.body)?
                    .is_cloud_managed,
            )),
            _ => Err(classify(&answer)),
        }
    }

    async fn set_user_cloud_managed(
        &self,
        id: Uuid,
        cloud_managed: bool,
    ) -> Result<(), GraphError> {
        self.write(
            reqwest::Method::PATCH,
            &format!("/users/{id}/onPremisesSyncBehavior"),
            json!({ "isCloudManaged": cloud_managed }),
            AfterWrite::No,
        )
        .await
        .map(drop)
    }

    async fn takeover_block(&self) -> Result<(String, bool), GraphError> {
        let object = self.sync_object().await?;
        Ok((
            object.id,
            object
                .features
                .block_cloud_object_takeover_through_hard_match_enabled,
        ))
    }

    async fn set_takeover_block(&self, sync_object: &str, enabled: bool) -> Result<(), GraphError> {
        self.write(
            reqwest::Method::PATCH,
            &format!(
                "/directory/onPremisesSynchronization/{}",
                segment(sync_object)
            ),
            json!({ "features": { "blockCloudObjectTakeoverThroughHardMatchEnabled": enabled } }),
            AfterWrite::No,
        )
        .await
        .map(drop)
    }

    /// A 404 right after Detour's own restore is asked again [S13].
    async fn assign_license(
        &self,
        id: Uuid,
        add: Option<Uuid>,
        remove: Option<Uuid>,
    ) -> Result<(), GraphError> {
        let body = json!({
            "addLicenses": add.map(|sku| vec![json!({ "skuId": sku, "disabledPlans": [] })]).unwrap_or_default(),
            "removeLicenses": remove.into_iter().collect::<Vec<_>>(),
        });
        self.write(
            reqwest::Method::POST,
            &format!("/users/{id}/assignLicense"),
            body,
            AfterWrite::Yes,
        )
        .await
        .map(drop)
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
