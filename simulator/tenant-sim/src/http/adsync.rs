//! The ADSync cmdlets over HTTP, for `tenant-sim adsync-shell`: the shell parses what an SSH
//! client sent and asks here, `POST /connect/adsync/v1/{cmdlet}` with the agent key and an
//! [`Invocation`], for what the cmdlet would print. Under `/connect/` so Connect's faults
//! (a hang, a delay) reach the shell too.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::HeaderMap,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;

use super::connect::{guard, unavailable};
use crate::{
    adsync::{self, Answer, Connectors, Invocation},
    app::Sim,
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/connect/adsync/v1/{cmdlet}", post(invoke))
}

async fn invoke(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(cmdlet): Path<String>,
    Json(invocation): Json<Invocation>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    if !invocation.cmdlet.eq_ignore_ascii_case(&cmdlet) {
        return Json(Answer::Error(format!(
            "the path names {cmdlet}, the body {}",
            invocation.cmdlet
        )))
        .into_response();
    }
    let answer = if cmdlet.eq_ignore_ascii_case("Start-ADSyncSyncCycle") {
        start(&sim, &invocation)
    } else {
        read(&sim, &invocation)
    };
    match answer {
        Ok(answer) => Json(answer).into_response(),
        Err(none) => unavailable(none),
    }
}

fn start(sim: &Arc<Sim>, invocation: &Invocation) -> Result<Answer, crate::app::NoScenario> {
    let policy = match adsync::policy_type(invocation) {
        Ok(policy) => policy,
        Err(message) => return Ok(Answer::Error(message)),
    };
    Ok(match sim.start_cycle(policy)? {
        Ok(_) => Answer::Output(vec![json!({ "Result": "Success" })]),
        Err(refusal) => Answer::Error(format!("Start-ADSyncSyncCycle : {}", refusal.message)),
    })
}

fn read(sim: &Sim, invocation: &Invocation) -> Result<Answer, crate::app::NoScenario> {
    let now = sim.clock.now();
    let search_base = sim.ad.search_base.clone();
    sim.with_world(|world| {
        let connectors = Connectors::of(&search_base, &world.tenant.initial_domain);
        let no_parameters = |output: Vec<serde_json::Value>| {
            if invocation.parameters.is_empty() {
                Ok(output)
            } else {
                Err(format!(
                    "{} : A parameter cannot be found that matches parameter name '{}'.",
                    invocation.cmdlet,
                    invocation
                        .parameters
                        .keys()
                        .next()
                        .map_or("", String::as_str)
                ))
            }
        };
        let output = match invocation.cmdlet.to_ascii_lowercase().as_str() {
            "get-adsyncscheduler" => no_parameters(adsync::scheduler(world, now)),
            "get-adsyncconnectorrunstatus" => {
                no_parameters(adsync::connector_run_status(world, &connectors))
            }
            "get-adsyncexportdeletionthreshold" => {
                no_parameters(adsync::export_deletion_threshold(world))
            }
            "get-adsyncglobalsettings" => no_parameters(adsync::global_settings(world)),
            "get-adsyncconnector" => adsync::connector(world, &connectors, invocation),
            "get-adsyncrunprofileresult" => {
                adsync::run_profile_result(world, &connectors, invocation)
            }
            "get-adsynccsobject" => adsync::cs_object(world, &connectors, invocation),
            _ => Err(format!(
                "The term '{}' is not recognized as the name of a cmdlet on this server.",
                invocation.cmdlet
            )),
        };
        match output {
            Ok(objects) => Answer::Output(objects),
            Err(message) => Answer::Error(message),
        }
    })
}
