//! The Connect agent API (`detour_contracts::connect_agent`), served over the simulated sync
//! engine.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use detour_contracts::connect_agent::{
    AgentError, AgentVersion, ConnectorScope, CycleStarted, DeletionThreshold, RunList, RunResult,
    SchedulerState, StartCycle,
};
use uuid::Uuid;

use crate::app::{NoScenario, Sim};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/connect/v1/scheduler", get(scheduler))
        .route("/connect/v1/version", get(version))
        .route("/connect/v1/sync-cycles", post(start))
        .route("/connect/v1/runs", get(runs))
        .route("/connect/v1/runs/{run_id}", get(run))
        .route("/connect/v1/deletion-threshold", get(deletion_threshold))
        .route("/connect/v1/scope", get(scope))
}

fn agent_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(AgentError {
            code: code.to_owned(),
            message: message.into(),
        }),
    )
        .into_response()
}

pub(super) fn unavailable(none: NoScenario) -> Response {
    agent_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "no-scenario",
        none.to_string(),
    )
}

pub(super) fn guard(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let expected = sim.credentials().agent_key.clone();
    if expected.is_empty() || key != expected {
        return Err(agent_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid agent key is required",
        ));
    }
    // A Cloud Sync tenant has no Connect server to ask.
    if sim
        .with_world(|world| world.connect.cloud_sync.is_some())
        .unwrap_or(false)
    {
        return Err(agent_error(
            StatusCode::NOT_FOUND,
            "not-found",
            "this tenant syncs with Cloud Sync: there is no Connect server",
        ));
    }
    Ok(())
}

async fn scheduler(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let now = sim.clock.now();
    match sim.with_world(|world| {
        let connect = &world.connect;
        let interval = connect.interval_seconds;
        SchedulerState {
            sync_cycle_enabled: connect.sync_cycle_enabled,
            sync_cycle_in_progress: connect.running.is_some(),
            next_sync_cycle_policy_type: connect.next_policy_type,
            next_sync_cycle_start_time_in_utc: (interval > 0)
                .then(|| now + time::Duration::seconds(interval as i64)),
            currently_effective_sync_cycle_interval_seconds: interval,
            staging_mode_enabled: connect.staging_mode_enabled,
            scheduler_suspended: connect.scheduler_suspended,
        }
    }) {
        Ok(state) => Json(state).into_response(),
        Err(none) => unavailable(none),
    }
}

async fn version(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    match sim.with_world(|world| AgentVersion {
        connect_version: world.connect.version.clone(),
    }) {
        Ok(version) => Json(version).into_response(),
        Err(none) => unavailable(none),
    }
}

async fn start(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let request: StartCycle = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return agent_error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("expected {{\"policyType\": \"Delta\"|\"Initial\"}}: {error}"),
            );
        }
    };
    match sim.start_cycle(request.policy_type) {
        Ok(Ok(run_id)) => (
            StatusCode::ACCEPTED,
            Json(CycleStarted {
                run_id,
                policy_type: request.policy_type,
            }),
        )
            .into_response(),
        Ok(Err(refusal)) => (StatusCode::CONFLICT, Json(refusal)).into_response(),
        Err(none) => unavailable(none),
    }
}

async fn runs(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(limit)) if limit > 0 => limit,
        Some(_) => {
            return agent_error(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "limit must be a positive number",
            );
        }
    };
    // `objects=false`: the runs without their per-object lists, for a client that only
    // watches which runs there are.
    let with_objects = query.get("objects").is_none_or(|v| v != "false");
    match sim.with_world(|world| RunList {
        runs: world
            .connect
            .runs
            .iter()
            .rev()
            .take(limit)
            .map(|run| {
                if with_objects {
                    run.clone()
                } else {
                    RunResult {
                        objects: Vec::new(),
                        ..run.clone()
                    }
                }
            })
            .collect(),
    }) {
        Ok(list) => Json(list).into_response(),
        Err(none) => unavailable(none),
    }
}

async fn run(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(run_id): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let Ok(run_id) = Uuid::parse_str(&run_id) else {
        return agent_error(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "the run id is not a GUID",
        );
    };
    match sim.with_world(|world| {
        world
            .connect
            .runs
            .iter()
            .find(|r| r.run_id == run_id)
            .cloned()
    }) {
        Ok(Some(run)) => Json(run).into_response(),
        Ok(None) => agent_error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no run {run_id}"),
        ),
        Err(none) => unavailable(none),
    }
}

async fn deletion_threshold(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    match sim.with_world(|world| DeletionThreshold {
        enabled: world.connect.deletion_threshold_enabled,
        threshold: world.connect.deletion_threshold,
    }) {
        Ok(threshold) => Json(threshold).into_response(),
        Err(none) => unavailable(none),
    }
}

async fn scope(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    match sim.with_world(|world| ConnectorScope {
        included_containers: world.connect.scope_ous.clone(),
        filter_attribute: world.connect.filter_attribute.clone(),
    }) {
        Ok(scope) => Json(scope).into_response(),
        Err(none) => unavailable(none),
    }
}
