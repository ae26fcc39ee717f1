//! A client of the Connect agent API (`detour_contracts::connect_agent`) over reqwest: each
//! answer classified into what the caller can do about it.

use std::time::Duration;

use detour_config::Secret;
use detour_contracts::connect_agent::{
    AgentError, AgentVersion, ConnectorScope, CycleStarted, DeletionThreshold, PolicyType, RunList,
    RunResult, SchedulerState, StartCycle,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentCallError {
    /// A cycle is running: ask again shortly [S40].
    #[error("Connect is busy: {0}")]
    Busy(String),
    /// Connect will not run a cycle now, for a reason waiting will not fix (staging mode).
    #[error("Connect refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// Timeouts, 429, 5xx, connection trouble.
    #[error("the Connect agent is unavailable: {0}")]
    Transient(String),
    /// A wrong key or a request the agent does not understand.
    #[error("the Connect agent rejected the call: {0}")]
    Rejected(String),
}

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

    pub async fn scheduler(&self) -> Result<SchedulerState, AgentCallError> {
        self.get("/connect/v1/scheduler").await
    }

    pub async fn version(&self) -> Result<AgentVersion, AgentCallError> {
        self.get("/connect/v1/version").await
    }

    pub async fn deletion_threshold(&self) -> Result<DeletionThreshold, AgentCallError> {
        self.get("/connect/v1/deletion-threshold").await
    }

    pub async fn scope(&self) -> Result<ConnectorScope, AgentCallError> {
        self.get("/connect/v1/scope").await
    }

    /// The newest `limit` runs, newest first, without their per-object outcomes.
    pub async fn recent_runs(&self, limit: usize) -> Result<Vec<RunResult>, AgentCallError> {
        let list: RunList = self
            .get(&format!("/connect/v1/runs?limit={limit}&objects=false"))
            .await?;
        Ok(list.runs)
    }

    pub async fn run(&self, run_id: Uuid) -> Result<RunResult, AgentCallError> {
        self.get(&format!("/connect/v1/runs/{run_id}")).await
    }

    pub async fn start(&self, policy_type: PolicyType) -> Result<Uuid, AgentCallError> {
        let response = self
            .http
            .post(format!("{}/connect/v1/sync-cycles", self.base_url))
            .bearer_auth(self.key.expose())
            .json(&StartCycle { policy_type })
            .send()
            .await
            .map_err(|e| AgentCallError::Transient(e.to_string()))?;
        read::<CycleStarted>(response)
            .await
            .map(|started| started.run_id)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentCallError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(self.key.expose())
            .send()
            .await
            .map_err(|e| AgentCallError::Transient(e.to_string()))?;
        read(response).await
    }
}

async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AgentCallError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| AgentCallError::Transient(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| {
            AgentCallError::Rejected(format!("the agent answered something unexpected: {e}"))
        });
    }
    let error: Option<AgentError> = serde_json::from_slice(&body).ok();
    let message = error.as_ref().map_or_else(
        || String::from_utf8_lossy(&body).into_owned(),
        |e| e.message.clone(),
    );
    Err(match (status, error) {
        (StatusCode::CONFLICT, Some(e)) if e.code == "busy" => AgentCallError::Busy(message),
        (StatusCode::CONFLICT, Some(e)) => AgentCallError::Refused {
            code: e.code,
            message,
        },
        (s, _)
            if s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error()
                || s == StatusCode::REQUEST_TIMEOUT =>
        {
            AgentCallError::Transient(format!("{status}: {message}"))
        }
        _ => AgentCallError::Rejected(format!("{status}: {message}")),
    })
}
