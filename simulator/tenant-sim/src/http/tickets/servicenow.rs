//! The ServiceNow Table API as its clients use it: `incident` listed (encoded queries,
//! `sysparm_fields`, `sysparm_limit`/`sysparm_offset` with `X-Total-Count`), read and updated
//! (work notes into the journal, state and close fields), `sys_journal_field` for the journal,
//! `sys_user` behind the `caller_id` reference. Every value is a string, dates are
//! `yyyy-MM-dd HH:mm:ss` (UTC), and a reference is `{link, value}`, or its display value, as
//! `sysparm_display_value` and `sysparm_exclude_reference_link` ask.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};
use uuid::Uuid;

use super::{basic_auth, encoded_query};
use crate::{
    app::Sim,
    http::base_url,
    tickets::{Incident, JournalEntry},
};

/// The Table API's date-time: `2026-12-01 10:00:00`, in UTC.
const GLIDE_TIME: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

fn glide_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(GLIDE_TIME)
        .unwrap_or_default()
}

fn servicenow_error(status: StatusCode, message: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message, "detail": detail }, "status": "failure" })),
    )
        .into_response()
}

fn unauthorized() -> Response {
    servicenow_error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        "Required to provide Auth information",
    )
}

/// The tickets, once the request's Basic credentials are the ServiceNow user's.
fn signed_in<'a>(
    sim: &'a Sim,
    headers: &HeaderMap,
) -> Result<std::sync::MutexGuard<'a, crate::tickets::Tickets>, Response> {
    let tickets = sim.tickets();
    if basic_auth(headers, tickets.servicenow_auth.as_ref()) {
        Ok(tickets)
    } else {
        Err(unauthorized())
    }
}

fn not_found() -> Response {
    servicenow_error(
        StatusCode::NOT_FOUND,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

/// The `sys_user` record a caller's user name stands for: a stable sys_id for the name.
fn user_sys_id(user_name: &str) -> String {
    let hash = |seed: u64| {
        user_name.to_lowercase().bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x8422_2325_cbf2_9ce4)
    )
}

/// The `name` (display field) of the user whose user name is `user_name`.
fn display_name(user_name: &str) -> &str {
    user_name.split('@').next().unwrap_or(user_name)
}

/// A reference to `table`'s `sys_id` record, as the request asks references to be shown.
struct Shape {
    base: String,
    display: Display,
    exclude_links: bool,
    fields: Option<Vec<String>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Display {
    /// Raw values (the default).
    Values,
    /// Display values instead.
    Shown,
    /// Both, as `{display_value, value, link}`.
    All,
}

impl Shape {
    fn of(headers: &HeaderMap, query: &HashMap<String, String>) -> Self {
        let display = match query.get("sysparm_display_value").map(String::as_str) {
            Some("true") => Display::Shown,
            Some("all") => Display::All,
            _ => Display::Values,
        };
        let fields = query.get("sysparm_fields").map(|f| {
            f.split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        });
        Self {
            base: base_url(headers),
            display,
            exclude_links: query
                .get("sysparm_exclude_reference_link")
                .is_some_and(|v| v == "true"),
            fields,
        }
    }

    fn reference(&self, table: &str, sys_id: &str, shown: &str) -> Value {
        if sys_id.is_empty() {
            return json!("");
        }
        let link = format!("{}/api/now/table/{table}/{sys_id}", self.base);
        match (self.display, self.exclude_links) {
            (Display::Shown, _) => json!(shown),
            (Display::All, true) => json!({ "display_value": shown, "value": sys_id }),
            (Display::All, false) => {
                json!({ "display_value": shown, "value": sys_id, "link": link })
            }
            (Display::Values, true) => json!(sys_id),
            (Display::Values, false) => json!({ "link": link, "value": sys_id }),
        }
    }

    /// `record` cut to `sysparm_fields` (names the table lacks are left out).
    fn select(&self, mut record: Map<String, Value>) -> Value {
        if let Some(fields) = &self.fields {
            record.retain(|name, _| fields.contains(name));
        }
        Value::Object(record)
    }
}

/// An incident as the Table API holds it: every field, values as strings.
fn incident_record(incident: &Incident, shape: &Shape) -> Map<String, Value> {
    let active = !matches!(incident.state.as_str(), "7" | "8");
    // A reference's display value is the record's display field: a user's `name`.
    let caller = match incident.caller_id.as_str() {
        "" => json!(""),
        user_name => shape.reference("sys_user", &user_sys_id(user_name), display_name(user_name)),
    };
    let record = json!({
        "sys_id": incident.sys_id,
        "number": incident.number,
        "short_description": incident.short_description,
        "description": incident.description,
        "caller_id": caller,
        "state": incident.state,
        "incident_state": incident.state,
        "active": active.to_string(),
        "close_code": incident.close_code,
        "close_notes": incident.close_notes,
        "priority": "4",
        "impact": "3",
        "urgency": "3",
        "opened_at": glide_time(incident.created),
        "sys_class_name": "incident",
        "sys_created_on": glide_time(incident.created),
        "sys_created_by": "admin",
        "sys_updated_on": glide_time(incident.updated),
        "sys_updated_by": "detour",
        "sys_mod_count": (incident.work_notes.len() + incident.comments.len()).to_string(),
        // Journal fields read back empty; their entries live in sys_journal_field.
        "work_notes": "",
        "comments": "",
    });
    record.as_object().cloned().unwrap_or_default()
}

fn journal_record(incident: &Incident, element: &str, entry: &JournalEntry) -> Map<String, Value> {
    let record = json!({
        "sys_id": entry.sys_id,
        "element_id": incident.sys_id,
        "element": element,
        "name": "incident",
        "value": entry.value,
        "sys_created_on": glide_time(entry.created),
        "sys_created_by": "detour",
    });
    record.as_object().cloned().unwrap_or_default()
}

/// One page of `records` that match the query, as the Table API lists them.
fn listed(
    mut records: Vec<Map<String, Value>>,
    query: &HashMap<String, String>,
    shape: &Shape,
) -> Response {
    let encoded = encoded_query::parse(query.get("sysparm_query").map_or("", String::as_str));
    records.retain(|r| encoded.matches(r));
    encoded.sort(&mut records);
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (offset, limit) = (number("sysparm_offset", 0), number("sysparm_limit", 10_000));
    let total = records.len();
    let page: Vec<Value> = records
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| shape.select(r))
        .collect();
    let mut response = Json(json!({ "result": page })).into_response();
    if let Ok(count) = HeaderValue::from_str(&total.to_string()) {
        response.headers_mut().insert("x-total-count", count);
    }
    response
}

pub(super) async fn incidents(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = match signed_in(&sim, &headers) {
        Ok(tickets) => tickets,
        Err(response) => return response,
    };
    let shape = Shape::of(&headers, &query);
    let records = tickets
        .incidents
        .iter()
        .map(|i| incident_record(i, &shape))
        .collect();
    listed(records, &query, &shape)
}

pub(super) async fn incident(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = match signed_in(&sim, &headers) {
        Ok(tickets) => tickets,
        Err(response) => return response,
    };
    let shape = Shape::of(&headers, &query);
    match tickets.incidents.iter().find(|i| i.sys_id == sys_id) {
        Some(incident) => {
            Json(json!({ "result": shape.select(incident_record(incident, &shape)) }))
                .into_response()
        }
        None => not_found(),
    }
}

pub(super) async fn update_incident(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
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
    let mut tickets = match signed_in(&sim, &headers) {
        Ok(tickets) => tickets,
        Err(response) => return response,
    };
    let shape = Shape::of(&headers, &query);
    let Some(incident) = tickets.incidents.iter_mut().find(|i| i.sys_id == sys_id) else {
        return not_found();
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
            "work_notes" if !text.is_empty() => incident.work_notes.push(entry()),
            "comments" if !text.is_empty() => incident.comments.push(entry()),
            "state" | "incident_state" => incident.state = text,
            "close_code" => incident.close_code = text,
            "close_notes" => incident.close_notes = text,
            "short_description" => incident.short_description = text,
            "description" => incident.description = text,
            // The Table API ignores fields it does not know; so does the simulator.
            _ => {}
        }
    }
    incident.updated = now;
    Json(json!({ "result": shape.select(incident_record(incident, &shape)) })).into_response()
}

/// `sys_journal_field`: the work notes and comments of every incident, queried like any table
/// (Detour asks `element_id=<sys_id>^element=work_notes`).
pub(super) async fn journal(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = match signed_in(&sim, &headers) {
        Ok(tickets) => tickets,
        Err(response) => return response,
    };
    let shape = Shape::of(&headers, &query);
    let records = tickets
        .incidents
        .iter()
        .flat_map(|i| {
            let notes = i
                .work_notes
                .iter()
                .map(|e| journal_record(i, "work_notes", e));
            let comments = i.comments.iter().map(|e| journal_record(i, "comments", e));
            notes.chain(comments).collect::<Vec<_>>()
        })
        .collect();
    listed(records, &query, &shape)
}

/// `sys_user/{sys_id}`: the caller behind an incident's `caller_id`.
pub(super) async fn user(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sys_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tickets = match signed_in(&sim, &headers) {
        Ok(tickets) => tickets,
        Err(response) => return response,
    };
    let shape = Shape::of(&headers, &query);
    let Some(name) = tickets
        .incidents
        .iter()
        .map(|i| i.caller_id.as_str())
        .find(|name| !name.is_empty() && user_sys_id(name) == sys_id)
    else {
        return not_found();
    };
    let record = json!({
        "sys_id": sys_id,
        "user_name": name,
        "email": name,
        "name": display_name(name),
        "active": "true",
        "sys_class_name": "sys_user",
    });
    Json(json!({ "result": shape.select(record.as_object().cloned().unwrap_or_default()) }))
        .into_response()
}
