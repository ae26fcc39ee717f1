//! One remediation as the help desk and an auditor see it: file the ticket, follow its
//! comments as they arrive, then check the user is fixed (address present, synced, the same
//! object, the group's licence only) and which services took part in the remediation's trace.
//! The demo and the trace test both run it.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, bail};
use detour_testkit::ReceivedSpan;
use serde_json::Value;

use crate::desk::{Desk, is_final, jira_created};

/// Graph as tenant-sim serves it, read with the scenario's app.
#[derive(Debug, Clone)]
pub struct GraphReader {
    pub client: reqwest::Client,
    pub base: String,
    pub tenant_id: String,
    pub client_id: String,
    pub secret: String,
}

const USER_FIELDS: &str =
    "id,onPremisesSyncEnabled,onPremisesImmutableId,proxyAddresses,licenseAssignmentStates";

impl GraphReader {
    /// The user's identity, sync state, addresses and licences.
    pub async fn user(&self, upn: &str) -> anyhow::Result<Value> {
        let token: Value = self
            .client
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.base, self.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = token["access_token"]
            .as_str()
            .context("the tenant gave no token")?;
        let response = self
            .client
            .get(format!(
                "{}/v1.0/users/{upn}?$select={USER_FIELDS}",
                self.base
            ))
            .bearer_auth(token)
            .send()
            .await?;
        let status = response.status();
        let user: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "Graph: {status} {user}");
        Ok(user)
    }
}

/// Files Jira issue `key` through the gateway's webhook (signed) and returns the gateway's
/// answer.
/// A 503 is the gateway's "try again" (the coordinator's queue not bound yet, the broker
/// away): the same delivery is sent again, as Jira re-sends a failed webhook, a few times.
pub async fn file_jira_ticket(desk: &Desk, key: &str, delivery: &str) -> anyhow::Result<Value> {
    const ATTEMPTS: u32 = 10;
    let issue = desk.jira_issue(key).await?;
    let mut attempt = 1;
    loop {
        let (status, answer) = desk.jira_webhook(&jira_created(&issue), delivery).await?;
        if status == 202 {
            return Ok(answer);
        }
        if status != 503 || attempt == ATTEMPTS {
            bail!("the gateway answered {status} after {attempt} attempts: {answer}");
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Polls the issue's comments, handing each new one to `on_comment`, until the final one
/// arrives (then returns them all) or `timeout` passes.
pub async fn follow_ticket(
    desk: &Desk,
    key: &str,
    timeout: Duration,
    mut on_comment: impl FnMut(&str),
) -> anyhow::Result<Vec<String>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = 0;
    loop {
        let comments = desk.jira_comments(key).await?;
        for comment in comments.iter().skip(seen) {
            on_comment(comment);
        }
        seen = comments.len();
        if comments.iter().any(|c| is_final(c)) {
            return Ok(comments);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("no final comment on {key} after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Each check of a fixed user, named, with whether it holds.
pub fn fixed_checks(before: &Value, after: &Value, address: &str) -> Vec<(String, bool)> {
    let has_address = after["proxyAddresses"].as_array().is_some_and(|all| {
        all.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&format!("smtp:{address}")))
        })
    });
    let licences = after["licenseAssignmentStates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let group_only =
        !licences.is_empty() && licences.iter().all(|l| !l["assignedByGroup"].is_null());
    vec![
        (format!("{address} is present"), has_address),
        (
            "synced from AD".into(),
            after["onPremisesSyncEnabled"] == true,
        ),
        (
            "the same cloud object".into(),
            after["id"] == before["id"] && !after["id"].is_null(),
        ),
        (
            "the same anchor".into(),
            after["onPremisesImmutableId"] == before["onPremisesImmutableId"],
        ),
        ("the group's licence only".into(), group_only),
    ]
}

/// The trace id a final comment names (its `Trace:` line).
pub fn trace_id_in(comments: &[String]) -> Option<String> {
    comments
        .iter()
        .filter(|c| is_final(c))
        .flat_map(|c| c.lines())
        .find_map(|line| line.strip_prefix("Trace: "))
        .map(str::to_owned)
}

/// How many spans of `trace_id` each service exported.
pub fn spans_by_service(spans: &[ReceivedSpan], trace_id: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for span in spans.iter().filter(|s| s.trace_id == trace_id) {
        *counts.entry(span.service.clone()).or_insert(0) += 1;
    }
    counts
}
