//! The simulator's own admin API under `/_sim/`: load a scenario, dump the world, flip switches,
//! upgrade Connect and features, move time forward and hold the schedule. It is for
//! rehearsals and tests, not for Detour.

use std::{sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    app::Sim,
    faults::Fault,
    scenario::Scenario,
    world::{Switches, SyncFeatures},
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/scenario", post(load))
        .route("/_sim/world", get(dump))
        .route("/_sim/switches", put(switches))
        .route("/_sim/features", put(features))
        .route("/_sim/connect", put(upgrade_connect))
        .route("/_sim/clock", post(clock))
        .route("/_sim/schedule", put(schedule))
        .route("/_sim/traffic", get(traffic))
        .route(
            "/_sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn load(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let scenario: Scenario = match serde_json::from_slice(&body) {
        Ok(scenario) => scenario,
        Err(error) => return problem(StatusCode::BAD_REQUEST, format!("not a scenario: {error}")),
    };
    match sim.load(&scenario).await {
        Ok(users) => {
            sim.start_scheduler(scenario.connect.interval_seconds);
            Json(json!({ "loaded": true, "users": users })).into_response()
        }
        Err(error) => problem(StatusCode::BAD_GATEWAY, format!("{error:#}")),
    }
}

/// Requests and 429s per API since the process started.
async fn traffic(State(sim): State<Arc<Sim>>) -> Response {
    let traffic = sim
        .traffic
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Json(traffic).into_response()
}

async fn dump(State(sim): State<Arc<Sim>>) -> Response {
    let now = sim.clock.now();
    match sim.with_world(|world| {
        let mut value = serde_json::to_value(&*world).unwrap_or_default();
        // Effective states, as the APIs would report them now.
        let mailboxes: serde_json::Map<String, serde_json::Value> = world
            .mailboxes
            .keys()
            .map(|id| (id.to_string(), json!(world.mailbox_state(*id, now))))
            .collect();
        value["mailbox_states_now"] = json!(mailboxes);
        let proxies: serde_json::Map<String, serde_json::Value> = world
            .users
            .values()
            .map(|u| (u.id.to_string(), json!(world.proxy_addresses(u))))
            .collect();
        value["proxy_addresses_now"] = json!(proxies);
        value
    }) {
        Ok(mut value) => {
            value["tickets"] = json!(*sim.tickets());
            Json(value).into_response()
        }
        Err(none) => problem(StatusCode::SERVICE_UNAVAILABLE, none.to_string()),
    }
}

async fn switches(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let switches: Switches = match serde_json::from_slice(&body) {
        Ok(switches) => switches,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("not a switch set: {error}"),
            );
        }
    };
    match sim.with_world(|world| world.switches = switches) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(none) => problem(StatusCode::SERVICE_UNAVAILABLE, none.to_string()),
    }
}

async fn features(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let features: SyncFeatures = match serde_json::from_slice(&body) {
        Ok(features) => features,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("not a feature set: {error}"),
            );
        }
    };
    match sim.with_world(|world| world.features = features) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(none) => problem(StatusCode::SERVICE_UNAVAILABLE, none.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectUpgrade {
    version: String,
}

/// The administrator upgrades (or rolls back) Entra Connect Sync: `{"version": "2.5.190.0"}`.
async fn upgrade_connect(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let upgrade: ConnectUpgrade = match serde_json::from_slice(&body) {
        Ok(upgrade) => upgrade,
        Err(error) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("not a Connect version: {error}"),
            );
        }
    };
    let parts: Vec<&str> = upgrade.version.split('.').collect();
    if parts.len() != 4 || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("{:?} is not a version such as 2.5.190.0", upgrade.version),
        );
    }
    match sim.with_world(|world| world.connect.version = upgrade.version) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(none) => problem(StatusCode::SERVICE_UNAVAILABLE, none.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    advance_seconds: f64,
}

async fn clock(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let advance = match serde_json::from_slice::<Advance>(&body) {
        Ok(advance) if advance.advance_seconds >= 0.0 => advance,
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "send {\"advance_seconds\": N} with N >= 0; time only moves forward",
            );
        }
    };
    sim.clock
        .advance(time::Duration::seconds_f64(advance.advance_seconds));
    Json(json!({ "now": crate::http::rfc3339(sim.clock.now()) })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Schedule {
    held: bool,
}

/// How long holding the schedule waits for a cycle already running to finish.
const HOLD_PATIENCE: Duration = Duration::from_secs(30);

/// Holds the scheduled cycles (`{"held": true}`, answered once none runs) or lets them go on.
async fn schedule(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(schedule) = serde_json::from_slice::<Schedule>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"held\": true} or {\"held\": false}",
        );
    };
    match sim.hold_schedule(schedule.held, HOLD_PATIENCE).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => problem(
            StatusCode::GATEWAY_TIMEOUT,
            format!("held, but the running cycle did not finish within {HOLD_PATIENCE:?}"),
        ),
        Err(none) => problem(StatusCode::SERVICE_UNAVAILABLE, none.to_string()),
    }
}

async fn add_fault(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Fault>(&body) {
        Ok(fault) => {
            sim.faults().add(fault);
            StatusCode::CREATED.into_response()
        }
        Err(error) => problem(StatusCode::BAD_REQUEST, format!("not a fault: {error}")),
    }
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.faults().list()).into_response()
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    sim.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}
