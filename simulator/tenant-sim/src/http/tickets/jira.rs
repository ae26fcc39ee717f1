//! The Jira Cloud REST API as its clients use it, v2 and v3: server info, fields, the caller,
//! issues with their `self` links and `fields.comment`, comments (list, add, get, edit), the
//! workflow's transitions (by id, string or number, with a comment taken along) and JQL search
//! (`search/jql`, paged by `nextPageToken`). Timestamps in Jira's own format; bodies in each
//! version's form ([`super::adf`]).

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

mod shape;

use self::shape::{Call, jira_time};
use super::basic_auth;
use crate::{
    app::Sim,
    http::base_url,
    tickets::{JiraComment, JiraIssue, Tickets, Transition},
};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/rest/api/{version}/serverInfo", get(server_info))
        .route("/rest/api/{version}/field", get(fields))
        .route("/rest/api/{version}/myself", get(myself))
        .route(
            "/rest/api/{version}/search/jql",
            get(search).post(search_post),
        )
        .route("/rest/api/{version}/issue/{key}", get(issue))
        .route(
            "/rest/api/{version}/issue/{key}/comment",
            get(comments).post(add_comment),
        )
        .route(
            "/rest/api/{version}/issue/{key}/comment/{id}",
            get(comment).put(edit_comment),
        )
        .route(
            "/rest/api/{version}/issue/{key}/transitions",
            get(transitions).post(transition),
        )
}

fn jira_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "errorMessages": [message], "errors": {} })),
    )
        .into_response()
}

fn unauthenticated() -> Response {
    jira_error(
        StatusCode::UNAUTHORIZED,
        "You are not authenticated. Authentication required to perform this operation.",
    )
}

fn no_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        "Issue does not exist or you do not have permission to see it.",
    )
}

/// A version Jira serves: 2 or 3.
fn version_ok(version: &str) -> Result<(), Response> {
    match version {
        "2" | "3" => Ok(()),
        _ => Err(jira_error(
            StatusCode::NOT_FOUND,
            &format!("REST API version {version} does not exist."),
        )),
    }
}

/// Checks the version and the credentials, then runs `f` on the tickets.
fn with_tickets(
    sim: &Sim,
    headers: &HeaderMap,
    version: &str,
    f: impl FnOnce(&mut Tickets, &Call<'_>) -> Response,
) -> Response {
    if let Err(response) = version_ok(version) {
        return response;
    }
    let mut tickets = sim.tickets();
    if !basic_auth(headers, tickets.jira_auth.as_ref()) {
        return unauthenticated();
    }
    let call = Call {
        base: base_url(headers),
        version,
    };
    f(&mut tickets, &call)
}

/// Runs `f` on the issue named by key or id.
fn with_issue(
    sim: &Sim,
    headers: &HeaderMap,
    version: &str,
    key: &str,
    f: impl FnOnce(&mut JiraIssue, &[Transition], &Call<'_>, OffsetDateTime) -> Response,
) -> Response {
    let now = sim.clock.now();
    with_tickets(sim, headers, version, |tickets, call| {
        let transitions = tickets.jira_transitions.clone();
        match tickets
            .jira_issues
            .iter_mut()
            .find(|i| i.key.eq_ignore_ascii_case(key) || i.id == key)
        {
            Some(issue) => f(issue, &transitions, call, now),
            None => no_issue(),
        }
    })
}

async fn server_info(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    if let Err(response) = version_ok(&version) {
        return response;
    }
    let now = jira_time(sim.clock.now());
    Json(json!({
        "baseUrl": base_url(&headers),
        "displayUrl": base_url(&headers),
        "version": "1001.0.0-SNAPSHOT",
        "versionNumbers": [1001, 0, 0],
        "deploymentType": "Cloud",
        "buildNumber": 100_275,
        "buildDate": "2026-11-24T00:00:00.000+0000",
        "serverTime": now,
        "scmInfo": "0b6f1a0e3e8d",
        "serverTitle": "Jira",
        "defaultLocale": { "locale": "en_US" },
        "serverTimeZone": "Etc/UTC",
    }))
    .into_response()
}

async fn fields(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    with_tickets(&sim, &headers, &version, |_, _| {
        let field = |id: &str, name: &str, kind: &str| {
            json!({ "id": id, "key": id, "name": name, "custom": false, "orderable": true,
                "navigable": true, "searchable": true, "clauseNames": [id],
                "schema": { "type": kind, "system": id } })
        };
        Json(json!([
            field("summary", "Summary", "string"),
            field("description", "Description", "string"),
            field("status", "Status", "status"),
            field("labels", "Labels", "array"),
            field("comment", "Comment", "comments-page"),
            field("created", "Created", "datetime"),
            field("updated", "Updated", "datetime"),
            field("issuetype", "Issue Type", "issuetype"),
            field("project", "Project", "project"),
        ]))
        .into_response()
    })
}

async fn myself(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(version): Path<String>,
) -> Response {
    with_tickets(&sim, &headers, &version, |_, call| {
        Json(call.user()).into_response()
    })
}

async fn issue(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
) -> Response {
    with_issue(&sim, &headers, &version, &key, |issue, _, call, _| {
        Json(call.issue(issue)).into_response()
    })
}

/// Comments a page, at most (Jira pages them with `startAt` and `maxResults`).
const COMMENT_PAGE_LIMIT: usize = 100;

async fn comments(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
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
    with_issue(&sim, &headers, &version, &key, |issue, _, call, _| {
        let page: Vec<Value> = issue
            .comments
            .iter()
            .skip(start)
            .take(max)
            .map(|c| call.comment(issue, c))
            .collect();
        let total = issue.comments.len();
        Json(json!({ "startAt": start, "maxResults": max, "total": total, "comments": page }))
            .into_response()
    })
}

/// The comment body in `request` if it suits `version`: v2 a non-empty string, v3 a document.
fn comment_body(version: &str, request: &Value) -> Result<Value, Response> {
    match (version, request.get("body")) {
        ("2", Some(Value::String(text))) if !text.is_empty() => Ok(Value::String(text.clone())),
        ("3", Some(body @ Value::Object(doc))) if doc.get("type") == Some(&json!("doc")) => {
            Ok(body.clone())
        }
        _ => Err((
            StatusCode::BAD_REQUEST,
            Json(json!({ "errorMessages": [], "errors": { "comment": "Comment body is not valid!" } })),
        )
            .into_response()),
    }
}

fn json_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice::<Value>(body).map_err(|_| {
        jira_error(
            StatusCode::BAD_REQUEST,
            "Unexpected character in the request body: it is not JSON.",
        )
    })
}

async fn add_comment(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body).and_then(|r| comment_body(&version, &r)) {
        Ok(body) => body,
        Err(response) => return response,
    };
    with_issue(&sim, &headers, &version, &key, |issue, _, call, now| {
        let comment = push_comment(issue, body, now);
        (StatusCode::CREATED, Json(call.comment(issue, &comment))).into_response()
    })
}

fn push_comment(issue: &mut JiraIssue, body: Value, now: OffsetDateTime) -> JiraComment {
    let comment = JiraComment {
        id: (10_000 + issue.comments.len()).to_string(),
        body,
        created: now,
        updated: now,
    };
    issue.comments.push(comment.clone());
    issue.updated = now;
    comment
}

fn no_comment(id: &str) -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &format!("Can not find a comment for the id: {id}."),
    )
}

async fn comment(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key, id)): Path<(String, String, String)>,
) -> Response {
    with_issue(
        &sim,
        &headers,
        &version,
        &key,
        |issue, _, call, _| match issue.comments.iter().find(|c| c.id == id) {
            Some(comment) => Json(call.comment(issue, comment)).into_response(),
            None => no_comment(&id),
        },
    )
}

async fn edit_comment(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body).and_then(|r| comment_body(&version, &r)) {
        Ok(body) => body,
        Err(response) => return response,
    };
    with_issue(&sim, &headers, &version, &key, |issue, _, call, now| {
        let Some(index) = issue.comments.iter().position(|c| c.id == id) else {
            return no_comment(&id);
        };
        issue.comments[index].body = body;
        issue.comments[index].updated = now;
        issue.updated = now;
        Json(call.comment(issue, &issue.comments[index])).into_response()
    })
}

async fn transitions(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
) -> Response {
    with_issue(&sim, &headers, &version, &key, |_, transitions, call, _| {
        let list: Vec<Value> = transitions.iter().map(|t| call.transition(t)).collect();
        Json(json!({ "expand": "transitions", "transitions": list })).into_response()
    })
}

/// `POST .../transitions`: the id as a string or a number (Jira takes both), and a comment
/// in `update.comment[].add.body` added as the transition is made.
async fn transition(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((version, key)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let request = match json_body(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let id = match &request["transition"]["id"] {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    };
    let Some(id) = id else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            "Missing 'transition' identifier: send {\"transition\": {\"id\": \"...\"}}.",
        );
    };
    let mut comments = Vec::new();
    for change in request["update"]["comment"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match comment_body(&version, &change["add"]) {
            Ok(body) => comments.push(body),
            Err(response) => return response,
        }
    }
    with_issue(
        &sim,
        &headers,
        &version,
        &key,
        |issue, transitions, _, now| {
            let Some(transition) = transitions.iter().find(|t| t.id == id) else {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Transition id '{id}' is not valid for this issue."),
                );
            };
            issue.status.clone_from(&transition.to);
            issue.updated = now;
            for body in comments {
                push_comment(issue, body, now);
            }
            StatusCode::NO_CONTENT.into_response()
        },
    )
}

async fn search(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(version): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let jql = query.get("jql").cloned().unwrap_or_default();
    let max = query.get("maxResults").and_then(|m| m.parse().ok());
    let token = query.get("nextPageToken").cloned();
    run_search(&sim, &headers, &version, &jql, max, token)
}

async fn search_post(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(version): Path<String>,
    body: Bytes,
) -> Response {
    let request = match json_body(&body) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let jql = request["jql"].as_str().unwrap_or_default().to_owned();
    let max = request["maxResults"]
        .as_u64()
        .and_then(|m| usize::try_from(m).ok());
    let token = request["nextPageToken"].as_str().map(str::to_owned);
    run_search(&sim, &headers, &version, &jql, max, token)
}

/// Results a page by default, and at most (`search/jql`'s limits).
const SEARCH_PAGE: usize = 50;
const SEARCH_PAGE_LIMIT: usize = 5_000;

fn run_search(
    sim: &Sim,
    headers: &HeaderMap,
    version: &str,
    jql: &str,
    max: Option<usize>,
    token: Option<String>,
) -> Response {
    let clauses = match super::jql::parse(jql) {
        Ok(clauses) => clauses,
        Err(message) => return jira_error(StatusCode::BAD_REQUEST, &message),
    };
    let max = max.unwrap_or(SEARCH_PAGE).clamp(1, SEARCH_PAGE_LIMIT);
    let start: usize = token.and_then(|t| t.parse().ok()).unwrap_or(0);
    with_tickets(sim, headers, version, |tickets, call| {
        let matching: Vec<&JiraIssue> = tickets
            .jira_issues
            .iter()
            .filter(|issue| clauses.iter().all(|clause| clause.matches(issue)))
            .collect();
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(max)
            .map(|issue| call.issue(issue))
            .collect();
        let more = start + max < matching.len();
        let mut body = json!({ "issues": page, "isLast": !more });
        if more {
            body["nextPageToken"] = json!((start + max).to_string());
        }
        Json(body).into_response()
    })
}
