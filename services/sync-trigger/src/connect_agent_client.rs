//! The [`Connect`] port over the Connect agent API (`detour_contracts::connect_agent`) with
//! reqwest: each answer classified into what the caller can do about it.

use std::time::Duration;

use detour_config::Secret;
use detour_contracts::connect_agent::{
    AgentError, AgentVersion, ConnectorScope, CycleStarted, DeletionThreshold, PolicyType, RunList,
    RunResult, SchedulerState, StartCycle,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::connect::{Connect, ConnectError};

#[derive(Debug, Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    base_url: String,
    key: Secret,
}

impl AgentClient {
    pub fn new(base_url: &str, key: Secret, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ConnectError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(self.key.expose())
            .send()
            .await
            .map_err(|e| ConnectError::Transient(e.to_string()))?;
        read(response).await
    }
}

impl Connect for AgentClient {
    async fn scheduler(&self) -> Result<SchedulerState, ConnectError> {
        self.get("/connect/v1/scheduler").await
    }

    async fn version(&self) -> Result<AgentVersion, ConnectError> {
        self.get("/connect/v1/version").await
    }

    async fn deletion_threshold(&self) -> Result<DeletionThreshold, ConnectError> {
        self.get("/connect/v1/deletion-threshold").await
    }

    async fn scope(&self) -> Result<ConnectorScope, ConnectError> {
        self.get("/connect/v1/scope").await
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunResult>, ConnectError> {
        let list: RunList = self
            .get(&format!("/connect/v1/runs?limit={limit}&objects=false"))
            .await?;
        Ok(list.runs)
    }

    async fn run(&self, run_id: Uuid) -> Result<RunResult, ConnectError> {
        self.get(&format!("/connect/v1/runs/{run_id}")).await
    }

    async fn start(&self, policy_type: PolicyType) -> Result<Option<Uuid>, ConnectError> {
        let response = self
            .http
            .post(format!("{}/connect/v1/sync-cycles", self.base_url))
            .bearer_auth(self.key.expose())
            .json(&StartCycle { policy_type })
            .send()
            .await
            .map_err(|e| ConnectError::Transient(e.to_string()))?;
        read::<CycleStarted>(response)
            .await
            .map(|started| Some(started.run_id))
    }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ConnectError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| ConnectError::Transient(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            ConnectError::Rejected(format!("the agent answered something unexpected: {e}"))
        });
    }
    let error: Option<AgentError> = serde_json::from_slice(&body).ok();
    let message = error.as_ref().map_or_else(
        || String::from_utf8_lossy(&body).into_owned(),
        |e| e.message.clone(),
    );
    Err(match (status, error) {
        (StatusCode::CONFLICT, Some(e)) if e.code == "busy" => ConnectError::Busy(message),
        (StatusCode::CONFLICT, Some(e)) => ConnectError::Refused {
            code: e.code,
            message,
        },
        (s, _)
            if s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error()
                || s == StatusCode::REQUEST_TIMEOUT =>
        {
            ConnectError::Transient(format!("{status}: {message}"))
        }
        _ => ConnectError::Rejected(format!("{status}: {message}")),
    })
}
