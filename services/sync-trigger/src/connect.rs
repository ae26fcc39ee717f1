//! The port sync-trigger stands on: what it needs of the Entra Connect server (its scheduler,
//! version, deletion threshold and scope; its run history; starting a cycle; what it holds of
//! an object), and what can go wrong. `connect_agent_client` is the adapter for the Connect
//! agent's HTTP API, `ssh` the one for the server's own PowerShell over SSH, `cloud_sync` the
//! one for Cloud Sync through Graph; the runner's and handlers' logic does not care which
//! adapter answers.

use std::{collections::BTreeMap, future::Future};

use detour_contracts::{
    Dn,
    connect_agent::{
        AgentVersion, ConnectorScope, DeletionThreshold, ObjectResult, PolicyType, RunResult,
        SchedulerState,
    },
    sync_trigger::SyncClient,
};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// A cycle is running: ask again shortly [S40].
    #[error("Connect is busy: {0}")]
    Busy(String),
    /// Connect will not run a cycle now, for a reason waiting will not fix (staging mode).
    #[error("Connect refused ({code}): {message}")]
    Refused { code: String, message: String },
    /// Timeouts, 429, 5xx, connection trouble.
    #[error("the Connect server is unavailable: {0}")]
    Transient(String),
    /// A wrong key or host key, a call the server does not understand, an answer of a shape
    /// it never documented.
    #[error("the Connect server rejected the call: {0}")]
    Rejected(String),
}

pub trait Connect: Send + Sync + 'static {
    /// What this adapter reaches: a Connect server unless it says otherwise.
    fn sync_client(&self) -> SyncClient {
        SyncClient::Connect
    }

    /// `Get-ADSyncScheduler` [S40].
    fn scheduler(&self) -> impl Future<Output = Result<SchedulerState, ConnectError>> + Send;

    fn version(&self) -> impl Future<Output = Result<AgentVersion, ConnectError>> + Send;

    fn deletion_threshold(
        &self,
    ) -> impl Future<Output = Result<DeletionThreshold, ConnectError>> + Send;

    /// The AD connector's containers and filter attribute.
    fn scope(&self) -> impl Future<Output = Result<ConnectorScope, ConnectError>> + Send;

    /// The newest `limit` runs, newest first, without their per-object outcomes.
    fn recent_runs(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<RunResult>, ConnectError>> + Send;

    /// One run with what it did to each object.
    fn run(&self, run_id: Uuid) -> impl Future<Output = Result<RunResult, ConnectError>> + Send;

    /// `Start-ADSyncSyncCycle`: the new run's id where the server names one; `Busy` while
    /// one runs [S40].
    fn start(
        &self,
        policy_type: PolicyType,
    ) -> impl Future<Output = Result<Option<Uuid>, ConnectError>> + Send;

    /// Brings the objects in (or updates them) at once, where the server can and the objects
    /// allow it (Cloud Sync's on-demand provisioning): the run that did it. `None`: a cycle
    /// must be waited for.
    fn provision_on_demand(
        &self,
        located_at: &BTreeMap<Uuid, Dn>,
    ) -> impl Future<Output = Result<Option<RunResult>, ConnectError>> + Send {
        let _ = located_at;
        async { Ok(None) }
    }

    /// What the server holds now of each object, for a server whose runs do not list their
    /// objects (the agent's do, and answers nothing here).
    fn object_results(
        &self,
        located_at: &BTreeMap<Uuid, Dn>,
    ) -> impl Future<Output = Result<Vec<ObjectResult>, ConnectError>> + Send {
        let _ = located_at;
        async { Ok(Vec::new()) }
    }
}
