//! The ticket systems Detour writes to, as their real clients see them: the Jira Cloud REST
//! API (v2 and v3) and the ServiceNow Table API, each with Basic auth and its own error shape.

mod adf;
mod encoded_query;
mod jira;
mod jql;
mod servicenow;

use std::sync::Arc;

use axum::{Router, http::HeaderMap, routing::get};
use base64::Engine;

use crate::app::Sim;

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .merge(jira::routes())
        .route("/api/now/table/incident", get(servicenow::incidents))
        .route(
            "/api/now/table/incident/{sys_id}",
            get(servicenow::incident)
                .patch(servicenow::update_incident)
                .put(servicenow::update_incident),
        )
        .route("/api/now/table/sys_journal_field", get(servicenow::journal))
        .route("/api/now/table/sys_user/{sys_id}", get(servicenow::user))
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
