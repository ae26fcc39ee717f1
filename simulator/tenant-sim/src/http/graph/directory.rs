//! Deleted items and restore [S1][S2], licences [S5][S7], role membership, and the tenant's
//! sync features [S17].

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{bad_request, filter, guard, users, without_annotations, world_error};
use crate::{
    app::Sim,
    http::{no_scenario, rfc3339},
    world::{DeletedUser, World, WorldError},
};

/// Runs a world operation and renders its result, or the error in Graph's shape.
pub(super) fn respond(
    sim: &Sim,
    f: impl FnOnce(&mut World) -> Result<Value, WorldError>,
) -> Response {
    match sim.with_world(f) {
        Ok(Ok(body)) => Json(body).into_response(),
        Ok(Err(error)) => world_error(error),
        Err(none) => no_scenario(none),
    }
}

/// A deleted user as deletedItems shows it: a user deleted by Connect carries its object id
/// as a prefix on its UPN [S49].
fn deleted_json(world: &World, deleted: &DeletedUser) -> Map<String, Value> {
    let mut json = users::user_json(world, &deleted.user);
    if deleted.deleted_by_sync {
        let prefixed = format!(
            "{}{}",
            deleted.user.id.simple(),
            deleted.user.user_principal_name
        );
        json.insert("userPrincipalName".into(), json!(prefixed));
    }
    json.insert(
        "deletedDateTime".into(),
        json!(rfc3339(deleted.deleted_date_time)),
    );
    json.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    json
}

pub(super) async fn list_deleted(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let clauses = match query.get("$filter").map(|f| filter::parse(f)).transpose() {
        Ok(clauses) => clauses.unwrap_or_default(),
        Err(error) => return bad_request(&error.to_string()),
    };
    let eventual = headers
        .get("consistencylevel")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"eventual"));
    let advanced = eventual && query.get("$count").is_some_and(|c| c == "true");
    if let Some(clause) = clauses.iter().find(|c| c.needs_advanced_query())
        && !advanced
    {
        let message = filter::FilterError::Unsupported(clause.property().to_owned()).to_string();
        return crate::http::graph_error(
            axum::http::StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &message,
            Vec::new(),
        );
    }
    respond(&sim, |world| {
        let value: Vec<Value> = world
            .deleted_users
            .values()
            .map(|d| deleted_json(world, d))
            .filter(|json| clauses.iter().all(|c| c.matches(json)))
            .map(Value::Object)
            .collect();
        Ok(
            json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects", "value": value }),
        )
    })
}

pub(super) async fn get_deleted(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let deleted = Uuid::parse_str(&id)
            .ok()
            .and_then(|id| world.deleted_users.get(&id))
            .ok_or_else(|| WorldError::NotFound(id.clone()))?;
        Ok(Value::Object(deleted_json(world, deleted)))
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RestoreRequest {
    #[serde(default)]
    auto_reconcile_proxy_conflict: bool,
    #[serde(default)]
    new_user_principal_name: Option<String>,
}

pub(super) async fn restore(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let request: RestoreRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RestoreRequest::default()
    } else {
        match without_annotations(&body) {
            Ok(request) => request,
            Err(error) => return bad_request(&format!("Invalid request body: {error}")),
        }
    };
    let now = sim.clock.now();
    respond(&sim, |world| {
        let user_id = Uuid::parse_str(&id).map_err(|_| WorldError::NotFound(id.clone()))?;
        world.restore_user(
            user_id,
            request.auto_reconcile_proxy_conflict,
            request.new_user_principal_name.as_deref(),
            now,
        )?;
        sim.note_write(user_id, None);
        let user = &world.users[&user_id];
        Ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity",
            "@odata.type": "#microsoft.graph.user",
            "id": user.id,
            "displayName": user.display_name,
            "userPrincipalName": user.user_principal_name,
            "mail": user.mail,
        }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AssignLicense {
    add_licenses: Vec<AddLicense>,
    remove_licenses: Vec<Uuid>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AddLicense {
    sku_id: Uuid,
    /// Accepted as Graph accepts it; the simulator models no individual service plans.
    #[serde(default, rename = "disabledPlans")]
    _disabled_plans: Vec<Uuid>,
}

pub(super) async fn assign_license(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let request: AssignLicense = match without_annotations(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(&format!("Invalid request body: {error}")),
    };
    let now = sim.clock.now();
    respond(&sim, |world| {
        let user_id = world.user_id(&id)?;
        let add: Vec<Uuid> = request.add_licenses.iter().map(|l| l.sku_id).collect();
        let before = users::user_json(world, &world.users[&user_id]);
        world.assign_license(user_id, &add, &request.remove_licenses, now)?;
        sim.note_write(user_id, Some(before));
        let full = users::user_json(world, &world.users[&user_id]);
        users::select(&full, None)
            .map(Value::Object)
            .map_err(|_| WorldError::BadRequest("render".into()))
    })
}

pub(super) async fn member_of(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let user_id = world.user_id(&id)?;
        let groups = world.groups.values().filter(|g| g.members.contains(&user_id)).map(|g| {
            json!({
                "@odata.type": "#microsoft.graph.group",
                "id": g.id,
                "displayName": g.display_name,
                "onPremisesSyncEnabled": g.on_premises_distinguished_name.as_ref().map(|_| true),
            })
        });
        let roles = world
            .roles
            .iter()
            .filter(|r| r.members.contains(&user_id))
            .map(|r| {
                json!({
                    "@odata.type": "#microsoft.graph.directoryRole",
                    "id": r.id,
                    "displayName": r.display_name,
                    "roleTemplateId": r.role_template_id,
                })
            });
        Ok(json!({ "value": groups.chain(roles).collect::<Vec<_>>() }))
    })
}

pub(super) async fn subscribed_skus(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let value: Vec<Value> = world
            .skus
            .iter()
            .map(|sku| {
                json!({
                    "id": format!("{}_{}", world.tenant.id, sku.sku_id),
                    "skuId": sku.sku_id,
                    "skuPartNumber": sku.sku_part_number,
                    "appliesTo": "User",
                    "capabilityStatus": "Enabled",
                    "consumedUnits": world.consumed_units(sku.sku_id),
                    "prepaidUnits": { "enabled": sku.prepaid_units, "suspended": 0, "warning": 0, "lockedOut": 0 },
                    "servicePlans": [],
                })
            })
            .collect();
        Ok(json!({ "value": value }))
    })
}

pub(super) async fn sync_features(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| Ok(json!({ "value": [sync_object(world)] })))
}

/// `GET /directory/onPremisesSynchronization/{id}`: the one object, by its id.
pub(super) async fn sync_features_by_id(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        if !id.eq_ignore_ascii_case(&world.tenant.id.to_string()) {
            return Err(WorldError::NotFound(id.clone()));
        }
        Ok(sync_object(world))
    })
}

fn sync_object(world: &World) -> Value {
    json!({
        "id": world.tenant.id,
        "features": {
            "blockSoftMatchEnabled": world.features.block_soft_match_enabled,
            "softMatchOnUpnEnabled": world.features.soft_match_on_upn_enabled,
            "blockCloudObjectTakeoverThroughHardMatchEnabled":
                world.features.block_cloud_object_takeover_through_hard_match_enabled,
        }
    })
}
