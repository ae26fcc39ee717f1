//! Privileged Identity Management's eligible role assignments:
//! `GET /roleManagement/directory/roleEligibilityScheduleInstances`, filtered by `principalId`
//! and with `$expand=roleDefinition` for the role's name. Since 2026-07-01 hard match is blocked
//! for users who hold or are eligible for a privileged role (MC1263280; domain-2026.md 3.5), so
//! Detour reads these before any round trip.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Query, State},
    http::HeaderMap,
    response::Response,
};
use serde_json::{Map, Value, json};

use super::{bad_request, directory::respond, guard};
use crate::app::Sim;

pub(super) async fn eligibility_instances(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let wanted = match query.get("$filter").map(|f| equality(f)).transpose() {
        Ok(wanted) => wanted,
        Err(message) => return bad_request(&message),
    };
    let expand = match query.get("$expand").map(String::as_str) {
        None => false,
        Some("roleDefinition") => true,
        Some(other) => {
            return bad_request(&format!(
                "Could not find a property named '{other}' on type \
                 'microsoft.graph.unifiedRoleEligibilityScheduleInstance'."
            ));
        }
    };
    respond(&sim, |world| {
        let value: Vec<Value> = world
            .roles
            .iter()
            .flat_map(|role| role.eligible.iter().map(move |principal| (role, principal)))
            .map(|(role, principal)| {
                let mut instance = Map::new();
                instance.insert(
                    "id".into(),
                    json!(format!("{}-{principal}", role.role_template_id)),
                );
                instance.insert("principalId".into(), json!(principal));
                instance.insert("roleDefinitionId".into(), json!(role.role_template_id));
                instance.insert("directoryScopeId".into(), json!("/"));
                instance.insert("memberType".into(), json!("Direct"));
                instance.insert("endDateTime".into(), Value::Null);
                if expand {
                    instance.insert(
                        "roleDefinition".into(),
                        json!({ "id": role.role_template_id, "displayName": role.display_name }),
                    );
                }
                instance
            })
            .filter(|instance| {
                wanted
                    .as_ref()
                    .is_none_or(|(property, value)| instance[property.as_str()] == json!(value))
            })
            .map(Value::Object)
            .collect();
        Ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleEligibilityScheduleInstances",
            "value": value,
        }))
    })
}

/// `principalId eq '<id>'` or `roleDefinitionId eq '<id>'`: the filters Detour and the PIM
/// tools use on this resource.
fn equality(filter: &str) -> Result<(String, String), String> {
    let invalid = || format!("Invalid filter clause: {filter}");
    let (property, value) = filter.trim().split_once(" eq ").ok_or_else(invalid)?;
    let property = property.trim();
    if property != "principalId" && property != "roleDefinitionId" {
        return Err(invalid());
    }
    let value = value
        .trim()
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(invalid)?;
    Ok((property.to_owned(), value.to_owned()))
}
