//! sync-trigger's commands and events: ask for a sync cycle that covers some objects, and get
//! back that cycle's outcome for them with the whole run's stats; or read the Connect server's
//! state. Requests that wait together share one cycle.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    connect_agent::{ObjectResult, PolicyType, RunOutcome, SchedulerState},
    message::service_message,
};

/// Run a cycle that sees the current state of `objects` (AD objectGUIDs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSyncCycle {
    pub objects: Vec<Uuid>,
    /// Delta unless a scope change needs a full import [S18].
    pub policy_type: PolicyType,
}
service_message!(RequestSyncCycle, SyncTrigger, "request-sync-cycle", Command);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunStats {
    pub adds: u32,
    pub updates: u32,
    pub deletes: u32,
    pub errors: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncCycleCompleted {
    pub run_id: Uuid,
    pub policy_type: PolicyType,
    pub outcome: RunOutcome,
    /// The run's outcome for the objects this request named (none for an object the run did
    /// not touch).
    pub objects: Vec<ObjectResult>,
    /// The whole run's counts on the cloud connector: how many deletions rode along, say.
    pub stats: RunStats,
    /// How many requests shared this cycle.
    pub requests_coalesced: u32,
}
service_message!(
    SyncCycleCompleted,
    SyncTrigger,
    "sync-cycle-completed",
    Event
);

/// Connect would not run a cycle, for a reason that waiting will not fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncCycleRefused {
    /// The agent's code: `staging-mode`, `scheduler-suspended`, ...
    pub code: String,
    pub reason: String,
}
service_message!(SyncCycleRefused, SyncTrigger, "sync-cycle-refused", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadConnectState {}
service_message!(ReadConnectState, SyncTrigger, "read-connect-state", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectStateRead {
    pub connect_version: String,
    pub scheduler: SchedulerState,
    pub deletion_threshold_enabled: bool,
    pub deletion_threshold: u32,
    /// The containers (DNs) Connect syncs: an object outside all of them is out of scope.
    #[serde(default)]
    pub included_containers: Vec<String>,
}
service_message!(ConnectStateRead, SyncTrigger, "connect-state-read", Event);
