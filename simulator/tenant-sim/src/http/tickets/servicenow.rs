//! The ServiceNow Table API subset Detour uses: incidents by number, their updates, and the
//! work-notes journal, with ServiceNow's error shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::basic_auth;
use crate::{
    app::Sim,
    http::rfc3339,
    tickets::{Incident, JournalEntry},
};

fn servicenow_error(status: StatusCode, message: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "detail": detail }, "status": "failure" })),
    )
        .into_response()
}

fn incident_json(incident: &Incident) -> Value {
    json!({
        "sys_id": incident.sys_id,
        "number": incident.number,
        "short_description": incident.short_description,
        "description": incident.description,
        "caller_id": incident.caller_id,
        "state": incident.state,
        "close_code": incident.close_code,
        "close_notes": incident.close_notes,
        // Journal fields read back empty; their entries live in sys_journal_field.
        "work_notes": "",
        "comments": "",
    })
}

fn servicenow_unauthorized() -> Response {
    servicenow_error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
}

pub(super) async fn incidents(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = sim.tickets();
    if !basic_auth(&headers, tickets.servicenow_auth.as_ref()) {
        return servicenow_unauthorized();
    }
    let wanted = query
        .get("sysparm_query")
        .and_then(|q| q.strip_prefix("number="));
    let result: Vec<Value> = tickets
        .incidents
        .iter()
        .filter(|i| wanted.is_none_or(|n| i.number.eq_ignore_ascii_case(n)))
        .map(incident_json)
        .collect();
    Json(json!({ "result": result })).into_response()
}

pub(super) async fn incident(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
) -> Response {
    let tickets = sim.tickets();
    if !basic_auth(&headers, tickets.servicenow_auth.as_ref()) {
        return servicenow_unauthorized();
    }
    match tickets.incidents.iter().find(|i| i.sys_id == sys_id) {
        Some(incident) => Json(json!({ "result": incident_json(incident) })).into_response(),
        None => servicenow_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
    }
}

pub(super) async fn update_incident(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return servicenow_error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "The payload is not valid JSON",
        );
    };
    let now = sim.clock.now();
    let mut tickets = sim.tickets();
    if !basic_auth(&headers, tickets.servicenow_auth.as_ref()) {
        return servicenow_unauthorized();
    }
    let Some(incident) = tickets.incidents.iter_mut().find(|i| i.sys_id == sys_id) else {
        return servicenow_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        );
    };
    for (field, value) in changes {
        let text = value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        let entry = || JournalEntry {
            sys_id: Uuid::new_v4().simple().to_string(),
            value: text.clone(),
            created: now,
        };
        match field.as_str() {
            "work_notes" => incident.work_notes.push(entry()),
            "comments" => incident.comments.push(entry()),
            "state" => incident.state = text,
            "close_code" => incident.close_code = text,
            "close_notes" => incident.close_notes = text,
            // The Table API ignores fields it does not know; so does the simulator.
            _ => {}
        }
    }
    Json(json!({ "result": incident_json(incident) })).into_response()
}

/// `sys_journal_field?sysparm_query=element_id=<sys_id>^element=work_notes`: the journal.
pub(super) async fn journal(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = sim.tickets();
    if !basic_auth(&headers, tickets.servicenow_auth.as_ref()) {
        return servicenow_unauthorized();
    }
    let conditions: HashMap<&str, &str> = query
        .get("sysparm_query")
        .map(|q| q.split('^').filter_map(|c| c.split_once('=')).collect())
        .unwrap_or_default();
    let element = conditions.get("element").copied().unwrap_or("work_notes");
    let result: Vec<Value> = tickets
        .incidents
        .iter()
        .filter(|i| conditions.get("element_id").is_none_or(|id| *id == i.sys_id))
        .flat_map(|i| {
            let entries = if element == "comments" { &i.comments } else { &i.work_notes };
            entries.iter().map(move |e| {
                json!({ "sys_id": e.sys_id, "element_id": i.sys_id, "element": element, "value": e.value, "sys_created_on": rfc3339(e.created) })
            })
        })
        .collect();
    Json(json!({ "result": result })).into_response()
}
