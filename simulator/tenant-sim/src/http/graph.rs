//! Microsoft Graph v1.0, the part Detour uses: users, deleted items and restore, licences,
//! subscribed SKUs, the tenant's sync features, role membership. Field names and error shapes
//! are Graph's own.

pub(super) mod batch;
mod directory;
mod filter;
mod roles;
mod sync_behavior;
mod synchronization;
mod users;

use std::sync::Arc;

use axum::{
    Router,
    http::{HeaderMap, StatusCode},
    response::Response,
    routing::{get, post},
};

use super::{authorize, graph_error};
use crate::{
    app::{Resource, Sim},
    world::WorldError,
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/v1.0/users", get(users::list))
        .route("/v1.0/users/{id}", get(users::get).patch(users::patch))
        .route(
            "/v1.0/users/{id}/assignLicense",
            post(directory::assign_license),
        )
        .route("/v1.0/users/{id}/memberOf", get(directory::member_of))
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
            get(roles::eligibility_instances),
        )
        .route(
            "/v1.0/directory/deletedItems/microsoft.graph.user",
            get(directory::list_deleted),
        )
        // The SDKs' short form of the same cast (Graph accepts both).
        .route(
            "/v1.0/directory/deletedItems/graph.user",
            get(directory::list_deleted),
        )
        .route(
            "/v1.0/directory/deletedItems/{id}",
            get(directory::get_deleted),
        )
        .route(
            "/v1.0/directory/deletedItems/{id}/restore",
            post(directory::restore),
        )
        // Entra PowerShell's spelling of the same action [S50].
        .route(
            "/v1.0/directory/deletedItems/{id}/microsoft.graph.restore",
            post(directory::restore),
        )
        .route("/v1.0/subscribedSkus", get(directory::subscribed_skus))
        .route(
            "/v1.0/directory/onPremisesSynchronization",
            get(directory::sync_features),
        )
        .route(
            "/v1.0/directory/onPremisesSynchronization/{id}",
            get(directory::sync_features_by_id).patch(sync_behavior::patch_features),
        )
        .route(
            "/v1.0/users/{id}/onPremisesSyncBehavior",
            get(sync_behavior::get).patch(sync_behavior::patch),
        )
        .route(
            "/v1.0/servicePrincipals",
            get(synchronization::list_service_principals),
        )
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs",
            get(synchronization::list_jobs),
        )
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}",
            get(synchronization::get_job),
        )
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/schema",
            get(synchronization::schema),
        )
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand",
            post(synchronization::provision_on_demand),
        )
        .route(
            "/v1.0/servicePrincipals/{sp}/synchronization/jobs/{job}/start",
            post(synchronization::start),
        )
        .route(
            "/v1.0/auditLogs/provisioning",
            get(synchronization::provisioning_log),
        )
}

/// `body` as `T` once its instance annotations (`@odata.type` and the like) are dropped, at
/// every level.
pub(super) fn without_annotations<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, String> {
    fn strip(value: &mut serde_json::Value) {
        if let serde_json::Value::Object(map) = value {
            map.retain(|name, _| !name.starts_with('@'));
            map.values_mut().for_each(strip);
        }
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| error.to_string())?;
    strip(&mut value);
    serde_json::from_value(value).map_err(|error| error.to_string())
}

fn guard(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    authorize(sim, headers, Resource::Graph).map_err(|message| {
        graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            message,
            Vec::new(),
        )
    })
}

fn world_error(error: WorldError) -> Response {
    match &error {
        WorldError::NotFound(_) => graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            &error.to_string(),
            Vec::new(),
        ),
        // The shape Graph gives a proxy conflict [S14].
        WorldError::Conflict { target, value } => graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            &error.to_string(),
            vec![
                serde_json::json!({ "code": "ObjectConflict", "target": target, "message": format!("{target}: {value}") }),
                serde_json::json!({ "code": "ConflictingObjects", "target": target }),
            ],
        ),
        WorldError::BadRequest(message) => graph_error(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            message,
            Vec::new(),
        ),
    }
}

fn bad_request(message: &str) -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        "Request_BadRequest",
        message,
        Vec::new(),
    )
}
