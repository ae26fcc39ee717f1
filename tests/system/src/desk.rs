//! The help desk's side of Detour: filing tickets through the gateway's webhooks as Jira and
//! ServiceNow send them (signed, with delivery ids), and reading back what Detour wrote to
//! the ticket through the same REST APIs a person's browser would use.

use anyhow::Context;
use detour_config::Secret;
use serde_json::{Value, json};
use ticket_gateway::inbound::signature::hub_signature;

/// Where the gateway and the ticket systems are, and how to talk to each.
#[derive(Debug, Clone)]
pub struct Desk {
    pub client: reqwest::Client,
    /// The gateway's base URL, e.g. `http://127.0.0.1:8086`.
    pub gateway: String,
    /// The ticket systems' base URL (tenant-sim).
    pub tickets: String,
    pub jira_secret: Secret,
    pub webhook_token: Secret,
}

/// A webhook's answer: status and JSON body.
pub type Answer = (u16, Value);

/// Jira's delivery header, as its webhooks send it.
pub const JIRA_DELIVERY: &str = "X-Atlassian-Webhook-Identifier";

impl Desk {
    /// POSTs `body` to the Jira webhook, signed as Jira signs it, with `delivery` as its id.
    pub async fn jira_webhook(&self, body: &Value, delivery: &str) -> anyhow::Result<Answer> {
        let bytes = serde_json::to_vec(body)?;
        let signature = hub_signature(&self.jira_secret, &bytes);
        self.post_raw(
            "/webhooks/jira",
            bytes,
            &[("X-Hub-Signature", &signature), (JIRA_DELIVERY, delivery)],
        )
        .await
    }

    /// POSTs raw `bytes` to a gateway path with `headers`: for forged, oversize and malformed
    /// deliveries.
    pub async fn post_raw(
        &self,
        path: &str,
        bytes: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.gateway))
            .header("content-type", "application/json")
            .body(bytes);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.context("the gateway is unreachable")?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// POSTs an incident to the ServiceNow webhook with the shared token.
    pub async fn servicenow_webhook(&self, incident: &Value) -> anyhow::Result<Answer> {
        let bytes = serde_json::to_vec(incident)?;
        self.post_raw(
            "/webhooks/servicenow",
            bytes,
            &[("x-detour-token", self.webhook_token.expose())],
        )
        .await
    }

    /// POSTs a request to the generic endpoint with the bearer token.
    pub async fn generic_webhook(&self, request: &Value) -> anyhow::Result<Answer> {
        let bearer = format!("Bearer {}", self.webhook_token.expose());
        self.post_raw(
            "/webhooks/generic",
            serde_json::to_vec(request)?,
            &[("authorization", &bearer)],
        )
        .await
    }

    async fn get(&self, path: &str, user: &str, password: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.tickets))
            .basic_auth(user, Some(password))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {body}");
        Ok(body)
    }

    /// The Jira issue as its REST API shows it.
    pub async fn jira_issue(&self, key: &str) -> anyhow::Result<Value> {
        self.get(&format!("/rest/api/2/issue/{key}"), JIRA_EMAIL, JIRA_TOKEN)
            .await
    }

    /// The issue's comment bodies as REST `version` shows them, oldest first.
    async fn jira_bodies(&self, key: &str, version: u8) -> anyhow::Result<Vec<Value>> {
        let comments = self
            .get(
                &format!("/rest/api/{version}/issue/{key}/comment"),
                JIRA_EMAIL,
                JIRA_TOKEN,
            )
            .await?;
        Ok(comments["comments"]
            .as_array()
            .map(|list| list.iter().map(|c| c["body"].clone()).collect())
            .unwrap_or_default())
    }

    /// The issue's comments, as text (REST v2), oldest first.
    pub async fn jira_comments(&self, key: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .jira_bodies(key, 2)
            .await?
            .into_iter()
            .map(|body| {
                body.as_str()
                    .map_or_else(|| body.to_string(), str::to_owned)
            })
            .collect())
    }

    /// The issue's comments as REST v3 shows them: Atlassian Document Format, oldest first.
    pub async fn jira_documents(&self, key: &str) -> anyhow::Result<Vec<Value>> {
        self.jira_bodies(key, 3).await
    }

    /// The incident, found by number, its fields as the README's business rule sends them:
    /// the Table API's values, the caller dot-walked to its user name
    /// (`current.caller_id.user_name`), since a reference's own value is a sys_id.
    pub async fn incident(&self, number: &str) -> anyhow::Result<Value> {
        let found = self
            .get(
                &format!("/api/now/table/incident?sysparm_query=number={number}"),
                SERVICENOW_USER,
                SERVICENOW_PASSWORD,
            )
            .await?;
        let mut incident = found["result"][0].clone();
        if let Some(link) = incident["caller_id"]["link"].as_str() {
            let path = link
                .find("/api/now/")
                .map_or(link, |at| &link[at..])
                .to_owned();
            let caller = self
                .get(&path, SERVICENOW_USER, SERVICENOW_PASSWORD)
                .await?;
            incident["caller_id"] = caller["result"]["user_name"].clone();
        }
        Ok(incident)
    }

    /// The incident's work notes, as text, oldest first.
    pub async fn work_notes(&self, sys_id: &str) -> anyhow::Result<Vec<String>> {
        let journal = self
            .get(
                &format!("/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}^element=work_notes"),
                SERVICENOW_USER,
                SERVICENOW_PASSWORD,
            )
            .await?;
        Ok(journal["result"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e["value"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The scenario's Jira account and ServiceNow user (rehearsal only; see `scenarios/contoso.json`).
pub const JIRA_EMAIL: &str = "detour@contoso.com";
pub const JIRA_TOKEN: &str = "rehearsal-only-jira-token";
pub const SERVICENOW_USER: &str = "detour";
pub const SERVICENOW_PASSWORD: &str = "rehearsal-only-servicenow-password";

/// The `tickets` section of a scenario: Jira issues (key, summary, description, labels) and
/// ServiceNow incidents (number, short description, caller), with the accounts above.
pub fn tickets_section(issues: &[Value], incidents: &[Value]) -> Value {
    json!({
        "jira": { "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "issues": issues },
        "servicenow": { "user": SERVICENOW_USER, "password": SERVICENOW_PASSWORD, "incidents": incidents },
    })
}

/// Now, as Jira dates its events: milliseconds since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The body Jira sends for `jira:issue_created`, around the issue as its REST API shows it.
pub fn jira_created(issue: &Value) -> Value {
    json!({
        "timestamp": now_ms(),
        "webhookEvent": "jira:issue_created",
        "issue_event_type_name": "issue_created",
        "user": { "accountId": "5b10a2844c20165700ede21g", "displayName": "Help Desk" },
        "issue": issue,
    })
}

/// The body Jira sends when the issue's status moves to `to`.
pub fn jira_status_changed(issue: &Value, from: &str, to: &str, by: &str) -> Value {
    json!({
        "timestamp": now_ms(),
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": { "accountId": "5b10a2844c20165700ede21h", "displayName": by },
        "issue": issue,
        "changelog": { "id": "10100", "items": [
            { "field": "status", "fieldtype": "jira", "fromString": from, "toString": to }
        ] },
    })
}

/// Whether a comment is the remediation's final word (its marker ends in `/final`).
pub fn is_final(comment: &str) -> bool {
    comment
        .lines()
        .any(|line| line.starts_with("detour-ref: ") && line.ends_with("/final"))
}
