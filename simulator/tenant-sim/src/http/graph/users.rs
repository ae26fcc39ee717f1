//! `/users`: one user with `$select`, a filtered and paged list, and PATCH of usageLocation.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{bad_request, filter, guard, world_error};
use crate::{
    app::Sim,
    http::{base_url, graph_error, no_scenario, rfc3339},
    world::{CloudUser, World},
};

/// What Graph returns without `$select` [S3].
const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Every property of a user as Graph names it.
pub(super) fn user_json(world: &World, user: &CloudUser) -> Map<String, Value> {
    let assigned: Vec<Value> = world
        .effective_skus(user.id)
        .into_iter()
        .map(|sku| json!({ "skuId": sku, "disabledPlans": [] }))
        .collect();
    let value = json!({
        "id": user.id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": null,
        "jobTitle": null,
        "mail": user.mail,
        "mailNickname": user.mail_nickname,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": null,
        "surname": null,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
        "usageLocation": user.usage_location,
        "createdDateTime": rfc3339(user.created_date_time),
        "proxyAddresses": world.proxy_addresses(user),
        "onPremisesSyncEnabled": user.on_premises_sync_enabled,
        "onPremisesImmutableId": user.on_premises_immutable_id,
        "onPremisesDistinguishedName": user.on_premises_distinguished_name,
        "onPremisesSamAccountName": user.on_premises_sam_account_name,
        "onPremisesUserPrincipalName": user.on_premises_user_principal_name,
        "onPremisesLastSyncDateTime": user.on_premises_last_sync_date_time.map(rfc3339),
        "onPremisesDomainName": user.on_premises_sync_enabled.map(|_| "corp.example.com"),
        "assignedLicenses": assigned,
        "licenseAssignmentStates": world.license_states(user.id),
        "onPremisesProvisioningErrors": user.provisioning_errors.iter().map(|e| json!({
            "category": e.category,
            "propertyCausingError": e.property_causing_error,
            "value": e.value,
            "occurredDateTime": rfc3339(user.created_date_time),
        })).collect::<Vec<_>>(),
        // Exchange Online's own errors are not modelled: none.
        "serviceProvisioningErrors": [],
    });
    value.as_object().cloned().unwrap_or_default()
}

/// Keeps the `$select`ed properties (or the default set); an unknown name is an error.
pub(super) fn select(
    full: &Map<String, Value>,
    select: Option<&String>,
) -> Result<Map<String, Value>, Response> {
    let names: Vec<&str> = match select {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect(),
        None => DEFAULT_PROPERTIES.to_vec(),
    };
    let mut out = Map::new();
    for name in names {
        let Some(value) = full.get(name) else {
            return Err(bad_request(&format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.user'."
            )));
        };
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

pub(super) async fn get(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    // `/users/$count` needs only the `ConsistencyLevel: eventual` header; `$count=true` is the
    // query-parameter form for a collection (Graph's advanced-query docs) [S4].
    if id == "$count" && !eventual(&headers) {
        return bad_request("$count is not currently supported.");
    }
    let found = sim.with_world(|world| {
        if id == "$count" {
            return Ok(world.users.len().to_string().into_response());
        }
        let user = world
            .user(&id)
            .ok_or_else(|| world_error(crate::world::WorldError::NotFound(id.clone())))?;
        let full = match sim.stale_view(user.id) {
            None => user_json(world, user),
            Some(Some(before)) => before,
            Some(None) => return Err(world_error(crate::world::WorldError::NotFound(id.clone()))),
        };
        let mut body = select(&full, query.get("$select"))?;
        body.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/v1.0/$metadata#users/$entity",
                base_url(&headers)
            )),
        );
        Ok(Json(body).into_response())
    });
    match found {
        Ok(Ok(response) | Err(response)) => response,
        Err(none) => no_scenario(none),
    }
}

/// Advanced query: `ConsistencyLevel: eventual` and `$count=true` [S4].
fn eventual(headers: &HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"))
}

fn advanced(headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
    let eventual = headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    eventual && query.get("$count").is_some_and(|v| v == "true")
}

pub(super) async fn list(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let clauses = match query.get("$filter").map(|f| filter::parse(f)).transpose() {
        Ok(clauses) => clauses.unwrap_or_default(),
        Err(error @ filter::FilterError::Syntax(_)) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &error.to_string(),
                Vec::new(),
            );
        }
        Err(error) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                &error.to_string(),
                Vec::new(),
            );
        }
    };
    let advanced = advanced(&headers, &query);
    if let Some(clause) = clauses.iter().find(|c| c.needs_advanced_query())
        && !advanced
    {
        let message = filter::FilterError::Unsupported(clause.property().to_owned()).to_string();
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &message,
            Vec::new(),
        );
    }
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(top)) if (1..=999).contains(&top) => top,
        Some(_) => {
            return bad_request("Invalid page size specified: '$top' must be between 1 and 999.");
        }
    };
    let skip: usize = query
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page = sim.with_world(|world| {
        let matching: Vec<Map<String, Value>> = world
            .users
            .values()
            .map(|user| user_json(world, user))
            .filter(|json| clauses.iter().all(|clause| clause.matches(json)))
            .collect();
        let total = matching.len();
        let mut items = Vec::new();
        for full in matching.into_iter().skip(skip).take(top) {
            items.push(Value::Object(select(&full, query.get("$select"))?));
        }
        Ok::<_, Response>((total, items))
    });
    let (total, items) = match page {
        Ok(Ok(page)) => page,
        Ok(Err(response)) => return response,
        Err(none) => return no_scenario(none),
    };
    let base = base_url(&headers);
    let mut body =
        json!({ "@odata.context": format!("{base}/v1.0/$metadata#users"), "value": items });
    if advanced && skip == 0 {
        // Only the first page carries the count [S11].
        body["@odata.count"] = json!(total);
    }
    if skip + top < total {
        let mut next: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| *k != "$skiptoken")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        next.push(("$skiptoken".into(), (skip + top).to_string()));
        let encoded: Vec<String> = next
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        body["@odata.nextLink"] = json!(format!("{base}/v1.0/users?{}", encoded.join("&")));
    }
    Json(body).into_response()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'$' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn patch(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload.",
            Vec::new(),
        );
    };
    let outcome = sim.with_world(|world| {
        let user_id = world.user_id(&id)?;
        sim.note_write(user_id, Some(user_json(world, &world.users[&user_id])));
        // Instance annotations (`@odata.type`, which every SDK sends) are not properties.
        for (name, value) in changes.iter().filter(|(name, _)| !name.starts_with('@')) {
            match (name.as_str(), value) {
                ("usageLocation", Value::String(location)) => world.set_usage_location(user_id, location)?,
                ("usageLocation", _) => return Err(crate::world::WorldError::BadRequest("usageLocation must be a string".into())),
                (other, _) if world.users[&user_id].is_synced() => {
                    return Err(crate::world::WorldError::BadRequest(format!(
                        "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration. ({other})"
                    )));
                }
                (other, _) => return Err(crate::world::WorldError::BadRequest(format!("Property '{other}' is not writable here."))),
            }
        }
        Ok(())
    });
    match outcome {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(error)) => world_error(error),
        Err(none) => no_scenario(none),
    }
}
