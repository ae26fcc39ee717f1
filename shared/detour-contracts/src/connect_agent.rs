//! The Connect agent API: a small HTTPS API standing for an Entra Connect server, which runs
//! the ADSync cmdlets on request. tenant-sim serves it for rehearsal and sync-trigger's agent
//! backend calls it (a real server is reached over SSH instead, by the ssh backend); its run
//! and object shapes are also what every backend answers in. All paths are under
//! `/connect/v1`, authenticated with `Authorization: Bearer <agent key>`.
//!
//! | call | answer |
//! |---|---|
//! | `GET /connect/v1/scheduler` | [`SchedulerState`] (`Get-ADSyncScheduler`) |
//! | `GET /connect/v1/version` | [`AgentVersion`] |
//! | `POST /connect/v1/sync-cycles` with [`StartCycle`] | 202 [`CycleStarted`]; 409 [`AgentError`] `busy`, `staging-mode` or `scheduler-suspended` |
//! | `GET /connect/v1/runs?limit=N[&objects=false]` | [`RunList`], newest first (`objects=false`: without per-object outcomes) |
//! | `GET /connect/v1/runs/{run_id}` | [`RunResult`] with per-object outcomes |
//! | `GET /connect/v1/deletion-threshold` | [`DeletionThreshold`] (`Get-ADSyncExportDeletionThreshold`) |

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::dn::Dn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyType {
    Delta,
    Initial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerState {
    pub sync_cycle_enabled: bool,
    pub sync_cycle_in_progress: bool,
    pub next_sync_cycle_policy_type: PolicyType,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_sync_cycle_start_time_in_utc: Option<OffsetDateTime>,
    pub currently_effective_sync_cycle_interval_seconds: u64,
    pub staging_mode_enabled: bool,
    pub scheduler_suspended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentVersion {
    /// The Entra Connect Sync version, e.g. `2.5.190.0`.
    pub connect_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartCycle {
    pub policy_type: PolicyType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CycleStarted {
    pub run_id: Uuid,
    pub policy_type: PolicyType,
}

/// An error answer: `code` is what a client branches on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentError {
    /// `busy`, `staging-mode`, `scheduler-suspended`, `not-found`, `bad-request`, `unauthorized`.
    pub code: String,
    /// The cmdlet's own text where there is one (e.g. "... AAD is busy.").
    pub message: String,
}

/// `Get-ADSyncRunProfileResult` results, as run-level values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    InProgress,
    Success,
    CompletedExportErrors,
    StoppedDeletionThresholdExceeded,
    NoStartConnection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectOutcome {
    Added,
    Updated,
    Deleted,
    /// Joined to an existing cloud object: hard match, soft match, or restore of a
    /// soft-deleted object whose anchor came back.
    Matched,
    /// Out of sync scope and never exported.
    Filtered,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectResult {
    /// The AD object's objectGUID.
    pub object_guid: Uuid,
    pub distinguished_name: String,
    pub outcome: ObjectOutcome,
    /// The cloud object concerned, when there is one.
    pub cloud_object_id: Option<Uuid>,
    /// What happened, e.g. `soft match on userPrincipalName`, or the error.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorCounters {
    pub connector_name: String,
    pub adds: u32,
    pub updates: u32,
    pub deletes: u32,
    pub errors: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunResult {
    pub run_id: Uuid,
    pub policy_type: PolicyType,
    pub outcome: RunOutcome,
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub end_date: Option<OffsetDateTime>,
    pub connectors: Vec<ConnectorCounters>,
    pub objects: Vec<ObjectResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunList {
    pub runs: Vec<RunResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeletionThreshold {
    pub enabled: bool,
    pub threshold: u32,
}

/// The AD connector's scope: the containers it syncs (its partition's container inclusion
/// list, as `Get-ADSyncConnector` shows it), and the attribute an object may be filtered on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectorScope {
    pub included_containers: Vec<Dn>,
    pub filter_attribute: Option<String>,
}
