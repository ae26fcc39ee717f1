//! Object-level source of authority, `GET`/`PATCH /users/{id}/onPremisesSyncBehavior`
//! (domain-2026.md 3.4), and the tenant's sync features written with
//! `PATCH /directory/onPremisesSynchronization/{id}`, the switch the documented rollback lifts.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    bad_request, directory::respond, guard, users::user_json, without_annotations, world_error,
};
use crate::{app::Sim, http::no_scenario, world::WorldError};

pub(super) async fn get(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let user = world
            .user(&id)
            .ok_or_else(|| WorldError::NotFound(id.clone()))?;
        Ok(json!({
            "@odata.context": format!("https://graph.microsoft.com/v1.0/$metadata#users('{}')/onPremisesSyncBehavior/$entity", user.id),
            "id": user.id,
            "isCloudManaged": user.cloud_managed,
        }))
    })
}

/// The body's properties; instance annotations (`@odata.type`, which the SDKs send) are
/// dropped first, any other unknown name is refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncBehaviorPatch {
    is_cloud_managed: bool,
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
    let Ok(change) = without_annotations::<SyncBehaviorPatch>(&body) else {
        return bad_request("Expected a body of the form {\"isCloudManaged\": true|false}.");
    };
    let outcome = sim.with_world(|world| {
        let user_id = world.user_id(&id)?;
        sim.note_write(user_id, Some(user_json(world, &world.users[&user_id])));
        world.set_user_cloud_managed(user_id, change.is_cloud_managed)
    });
    no_content(outcome)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SynchronizationPatch {
    features: FeaturesPatch,
}

/// Only the flags tenant-sim models; any other name is refused, not ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FeaturesPatch {
    block_soft_match_enabled: Option<bool>,
    block_cloud_object_takeover_through_hard_match_enabled: Option<bool>,
    soft_match_on_upn_enabled: Option<bool>,
}

pub(super) async fn patch_features(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let change = match without_annotations::<SynchronizationPatch>(&body) {
        Ok(change) => change.features,
        Err(error) => return bad_request(&format!("Invalid onPremisesSynchronization: {error}")),
    };
    let outcome = sim.with_world(|world| {
        if !id.eq_ignore_ascii_case(&world.tenant.id.to_string()) {
            return Err(WorldError::NotFound(id.clone()));
        }
        let features = &mut world.features;
        // Once on, soft match on UPN cannot be turned off (domain-2026.md 3.3).
        if change.soft_match_on_upn_enabled == Some(false) && features.soft_match_on_upn_enabled {
            return Err(WorldError::BadRequest(
                "softMatchOnUpnEnabled cannot be disabled once enabled.".into(),
            ));
        }
        if let Some(value) = change.block_soft_match_enabled {
            features.block_soft_match_enabled = value;
        }
        if let Some(value) = change.block_cloud_object_takeover_through_hard_match_enabled {
            features.block_cloud_object_takeover_through_hard_match_enabled = value;
        }
        if let Some(value) = change.soft_match_on_upn_enabled {
            features.soft_match_on_upn_enabled = value;
        }
        Ok(())
    });
    no_content(outcome)
}

fn no_content(outcome: Result<Result<(), WorldError>, crate::app::NoScenario>) -> Response {
    match outcome {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(error)) => world_error(error),
        Err(none) => no_scenario(none),
    }
}
