//! ServiceNow's Table API, as much as Detour writes: finding an incident by number, its
//! work-notes journal, and its state.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::json;
use tokio::sync::Mutex;

use super::{FollowUp, Note, WriteError, http::RestClient};
use crate::settings::ServiceNowSettings;

#[derive(Debug, Clone)]
pub struct ServiceNowClient {
    rest: RestClient,
    resolved_state: String,
    close_code: String,
    escalated_state: String,
    /// Incident numbers to sys_ids: they never change.
    sys_ids: Arc<Mutex<HashMap<String, String>>>,
}

impl ServiceNowClient {
    pub fn new(settings: &ServiceNowSettings) -> anyhow::Result<Self> {
        let rest = RestClient::new(
            &settings.base_url,
            &settings.user,
            settings.password()?,
            Duration::from_millis(settings.request_timeout_ms),
            settings.max_attempts,
            Duration::from_millis(settings.backoff_ms),
        )
        .map_err(anyhow::Error::msg)?;
        Ok(Self {
            rest,
            resolved_state: settings.resolved_state.clone(),
            close_code: settings.close_code.clone(),
            escalated_state: settings.escalated_state.clone(),
            sys_ids: Arc::default(),
        })
    }

    /// The incident's sys_id, from its number.
    pub async fn sys_id(&self, number: &str) -> Result<String, WriteError> {
        if let Some(sys_id) = self.sys_ids.lock().await.get(number) {
            return Ok(sys_id.clone());
        }
        let url = self.rest.url("/api/now/table/incident");
        let query = [
            ("sysparm_query", format!("number={number}")),
            ("sysparm_limit", "1".to_owned()),
            ("sysparm_fields", "sys_id,number".to_owned()),
        ];
        let found = self
            .rest
            .send("finding the incident", |http| http.get(&url).query(&query))
            .await?;
        let sys_id = found["result"][0]["sys_id"]
            .as_str()
            .ok_or_else(|| WriteError::Refused(format!("no incident {number}")))?
            .to_owned();
        // A sys_id is 32 hex digits; anything else is not ServiceNow's answer to trust.
        if sys_id.len() != 32 || !sys_id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(WriteError::Refused(format!(
                "incident {number} has no valid sys_id"
            )));
        }
        self.sys_ids
            .lock()
            .await
            .insert(number.to_owned(), sys_id.clone());
        Ok(sys_id)
    }

    /// Adds `note` to the work notes unless one with its marker is there already.
    pub async fn work_note(&self, sys_id: &str, note: &Note) -> Result<(), WriteError> {
        let url = self.rest.url("/api/now/table/sys_journal_field");
        let query = [(
            "sysparm_query",
            format!("element_id={sys_id}^element=work_notes"),
        )];
        let journal = self
            .rest
            .send("reading the work notes", |http| {
                http.get(&url).query(&query)
            })
            .await?;
        let already = journal["result"].as_array().is_some_and(|entries| {
            entries.iter().any(|entry| {
                entry["value"]
                    .as_str()
                    .is_some_and(|value| value.contains(&note.marker))
            })
        });
        if already {
            return Ok(());
        }
        self.update(sys_id, json!({ "work_notes": note.lines.join("\n") }))
            .await
    }

    pub async fn follow_up(
        &self,
        sys_id: &str,
        follow_up: FollowUp,
        note: &Note,
    ) -> Result<(), WriteError> {
        let change = match follow_up {
            FollowUp::Nothing | FollowUp::Start => return Ok(()),
            FollowUp::Resolve => json!({
                "state": self.resolved_state,
                "close_code": self.close_code,
                "close_notes": note.lines.first().cloned().unwrap_or_default(),
            }),
            FollowUp::Escalate => json!({ "state": self.escalated_state }),
        };
        self.update(sys_id, change).await
    }

    async fn update(&self, sys_id: &str, change: serde_json::Value) -> Result<(), WriteError> {
        let url = self.rest.url(&format!(
            "/api/now/table/incident/{}",
            RestClient::segment(sys_id)
        ));
        self.rest
            .send("updating the incident", |http| {
                http.patch(&url).json(&change)
            })
            .await
            .map(drop)
    }
}
