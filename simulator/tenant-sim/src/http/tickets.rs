//! The Jira Cloud REST subset (issue, comments, transitions; v2 and v3) and the ServiceNow
//! Table API subset (incidents, their work-notes journal) Detour writes to, with Basic auth
//! and each system's error shape.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    app::Sim,
    http::rfc3339,
    tickets::{Incident, JiraComment, JiraIssue, JournalEntry},
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/rest/api/{version}/issue/{key}", get(jira_issue))
        .route(
            "/rest/api/{version}/issue/{key}/comment",
            get(jira_comments).post(jira_add_comment),
        )
        .route(
            "/rest/api/{version}/issue/{key}/transitions",
            get(jira_transitions).post(jira_transition),
        )
        .route("/api/now/table/incident", get(incidents))
        .route(
            "/api/now/table/incident/{sys_id}",
            get(incident).patch(update_incident).put(update_incident),
        )
        .route("/api/now/table/sys_journal_field", get(journal))
}

fn basic_auth(headers: &HeaderMap, expected: Option<&(String, String)>) -> bool {
    let Some((user, secret)) = expected else {
        return false;
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok());
    given.as_deref() == Some(&format!("{user}:{secret}"))
}

// Jira ----------------------------------------------------------------------------------------

fn jira_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message], "errors": {} })),
    )
        .into_response()
}

/// Runs `f` on the issue, or answers as Jira does for auth failures and unknown issues.
fn with_issue(
    sim: &Sim,
    headers: &HeaderMap,
    key: &str,
    f: impl FnOnce(&mut JiraIssue, &[crate::tickets::Transition]) -> Response,
) -> Response {
    let mut tickets = sim.tickets();
    if !basic_auth(headers, tickets.jira_auth.as_ref()) {
        return jira_error(
            StatusCode::UNAUTHORIZED,
            "You are not authenticated. Authentication required to perform this operation.",
        );
    }
    let transitions = tickets.jira_transitions.clone();
    match tickets
        .jira_issues
        .iter_mut()
        .find(|i| i.key.eq_ignore_ascii_case(key))
    {
        Some(issue) => f(issue, &transitions),
        None => jira_error(
            StatusCode::NOT_FOUND,
            "Issue does not exist or you do not have permission to see it.",
        ),
    }
}

fn comment_json(comment: &JiraComment) -> Value {
    json!({
        "id": comment.id,
        "author": { "displayName": "Detour", "accountType": "app" },
        "body": comment.body,
        "created": rfc3339(comment.created),
        "updated": rfc3339(comment.created),
    })
}

async fn jira_issue(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((_, key)): Path<(String, String)>,
) -> Response {
    with_issue(&sim, &headers, &key, |issue, _| {
        Json(json!({
            "id": issue.id,
            "key": issue.key,
            "fields": {
                "summary": issue.summary,
                "description": issue.description,
                "status": { "name": issue.status },
                "labels": issue.labels,
            }
        }))
        .into_response()
    })
}

/// Comments a page, at most (Jira pages them with `startAt` and `maxResults`).
const COMMENT_PAGE_LIMIT: usize = 100;

async fn jira_comments(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((_, key)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let start = number("startAt", 0);
    let max = number("maxResults", COMMENT_PAGE_LIMIT).clamp(1, COMMENT_PAGE_LIMIT);
    with_issue(&sim, &headers, &key, |issue, _| {
        let page: Vec<Value> = issue
            .comments
            .iter()
            .skip(start)
            .take(max)
            .map(comment_json)
            .collect();
        let total = issue.comments.len();
        Json(json!({ "startAt": start, "maxResults": max, "total": total, "comments": page }))
            .into_response()
    })
}

async fn jira_add_comment(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            "Unexpected character in the request body: it is not JSON.",
        );
    };
    // REST v2 takes a string; v3 an Atlassian Document Format document.
    let valid = match (version.as_str(), request.get("body")) {
        ("2", Some(Value::String(text))) => !text.is_empty(),
        ("3", Some(Value::Object(doc))) => doc.get("type") == Some(&json!("doc")),
        _ => false,
    };
    if !valid {
        return (StatusCode::BAD_REQUEST, Json(json!({ "errorMessages": [], "errors": { "comment": "Comment body is not valid!" } }))).into_response();
    }
    let now = sim.clock.now();
    with_issue(&sim, &headers, &key, |issue, _| {
        let comment = JiraComment {
            id: (10_000 + issue.comments.len()).to_string(),
            body: request["body"].clone(),
            created: now,
        };
        let response = (StatusCode::CREATED, Json(comment_json(&comment))).into_response();
        issue.comments.push(comment);
        response
    })
}

async fn jira_transitions(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((_, key)): Path<(String, String)>,
) -> Response {
    with_issue(&sim, &headers, &key, |_, transitions| {
        let list: Vec<Value> = transitions
            .iter()
            .map(|t| json!({ "id": t.id, "name": t.name, "to": { "name": t.to } }))
            .collect();
        Json(json!({ "transitions": list })).into_response()
    })
}

async fn jira_transition(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((_, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["transition"]["id"].as_str().map(str::to_owned));
    let Some(id) = id else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            "Send {\"transition\": {\"id\": \"...\"}}.",
        );
    };
    with_issue(&sim, &headers, &key, |issue, transitions| match transitions
        .iter()
        .find(|t| t.id == id)
    {
        Some(transition) => {
            issue.status.clone_from(&transition.to);
            StatusCode::NO_CONTENT.into_response()
        }
        None => jira_error(
            StatusCode::BAD_REQUEST,
            &format!("Transition id '{id}' is not valid for this issue."),
        ),
    })
}

// ServiceNow ----------------------------------------------------------------------------------

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

async fn incidents(
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

async fn incident(
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

async fn update_incident(
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
async fn journal(
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
