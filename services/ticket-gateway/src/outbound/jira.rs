//! Jira Cloud's REST API, as much as Detour writes: comments (v2 plain text or v3 Atlassian
//! Document Format), the issue's status, and its transitions.

use std::time::Duration;

use serde_json::{Value, json};

use super::{FollowUp, Note, WriteError, http::RestClient};
use crate::settings::JiraSettings;

/// Comments asked for per page (Jira may send fewer).
const COMMENT_PAGE: u64 = 100;

#[derive(Debug, Clone)]
pub struct JiraClient {
    rest: RestClient,
    api_version: u8,
    start: String,
    resolve: String,
    escalate: String,
}

impl JiraClient {
    pub fn new(settings: &JiraSettings) -> anyhow::Result<Self> {
        let rest = RestClient::new(
            &settings.base_url,
            &settings.email,
            settings.api_token()?,
            Duration::from_millis(settings.request_timeout_ms),
            settings.max_attempts,
            Duration::from_millis(settings.backoff_ms),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(Self {
            rest,
            api_version: settings.api_version,
            start: settings.start_transition.clone(),
            resolve: settings.resolve_transition.clone(),
            escalate: settings.escalate_transition.clone(),
        })
    }

    fn path(&self, key: &str, rest: &str) -> String {
        self.rest.url(&format!(
            "/rest/api/{}/issue/{}{rest}",
            self.api_version,
            RestClient::segment(key)
        ))
    }

    /// Adds `note` as a comment unless one with its marker is there already.
    pub async fn comment(&self, key: &str, note: &Note) -> Result<(), WriteError> {
        if self.has_comment_with(key, &note.marker).await? {
            tracing::debug!(key, marker = %note.marker, "the comment is there already");
            return Ok(());
        }
        let body = match self.api_version {
            3 => json!({ "body": document(&note.lines) }),
            _ => json!({ "body": note.lines.join("\n") }),
        };
        let url = self.path(key, "/comment");
        self.rest
            .send("adding a comment", |http| http.post(&url).json(&body))
            .await
            .map(drop)
    }

    /// Whether any comment on the issue holds `marker`, reading every page of them.
    async fn has_comment_with(&self, key: &str, marker: &str) -> Result<bool, WriteError> {
        let url = self.path(key, "/comment");
        let mut start = 0;
        loop {
            let query = [("startAt", start), ("maxResults", COMMENT_PAGE)];
            let page = self
                .rest
                .send("reading the comments", |http| http.get(&url).query(&query))
                .await?;
            let comments = page["comments"].as_array().cloned().unwrap_or_default();
            if comments
                .iter()
                .any(|comment| body_text(&comment["body"]).contains(marker))
            {
                return Ok(true);
            }
            start += comments.len() as u64;
            let total = page["total"].as_u64().unwrap_or(0);
            if comments.is_empty() || start >= total {
                return Ok(false);
            }
        }
    }

    pub async fn follow_up(&self, key: &str, follow_up: FollowUp) -> Result<(), WriteError> {
        let wanted = match follow_up {
            FollowUp::Nothing => return Ok(()),
            FollowUp::Start => &self.start,
            FollowUp::Resolve => &self.resolve,
            FollowUp::Escalate => &self.escalate,
        };
        if wanted.is_empty() {
            return Ok(());
        }
        self.transition(key, wanted).await
    }

    /// Takes the transition named `wanted` (or leading to the status `wanted`), unless the
    /// issue is there already. A workflow without it is logged, not retried.
    async fn transition(&self, key: &str, wanted: &str) -> Result<(), WriteError> {
        let url = self.path(key, "");
        let issue = self
            .rest
            .send("reading the issue", |http| http.get(&url))
            .await?;
        let status = issue["fields"]["status"]["name"]
            .as_str()
            .unwrap_or_default();
        if status.eq_ignore_ascii_case(wanted) {
            return Ok(());
        }
        let url = self.path(key, "/transitions");
        let offered = self
            .rest
            .send("reading the transitions", |http| http.get(&url))
            .await?;
        let transition = offered["transitions"].as_array().and_then(|list| {
            list.iter().find(|t| {
                t["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
                    || t["to"]["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            })
        });
        let Some(id) = transition.and_then(|t| t["id"].as_str()) else {
            tracing::warn!(
                key,
                wanted,
                status,
                "the workflow offers no such transition now"
            );
            return Ok(());
        };
        let body = json!({ "transition": { "id": id } });
        self.rest
            .send("transitioning the issue", |http| {
                http.post(&url).json(&body)
            })
            .await
            .map(drop)
    }
}

/// A comment's body as text: v2 gives a string; v3 a document, searched as its JSON.
fn body_text(body: &Value) -> String {
    match body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Lines as an Atlassian Document Format document, one paragraph each.
fn document(lines: &[String]) -> Value {
    let paragraphs: Vec<Value> = lines
        .iter()
        .map(|line| json!({ "type": "paragraph", "content": [{ "type": "text", "text": line }] }))
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}
