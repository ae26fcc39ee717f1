//! sync-trigger's commands and events: ask for a sync cycle that sees a change made to some
//! objects, and get back what every run that may have seen it did to them; or read the Connect
//! server's state. Requests share cycles: any completed run that started after the change
//! answers, whoever started it (another request, or Connect's own scheduler).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    connect_agent::{ObjectResult, PolicyType, RunOutcome, SchedulerState},
    dn::Dn,
    message::service_message,
};

/// Make sure a cycle has seen what was done to `objects` (AD objectGUIDs) before `since`:
/// answered once a run that started at or after `since` has completed (starting one if none
/// has), with every run that ended after `since`, since any of them may have exported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSyncCycle {
    pub objects: Vec<Uuid>,
    /// Delta unless a scope change needs a full import [S18].
    pub policy_type: PolicyType,
    /// The requester's change was made before this instant. Required: without it an old run
    /// could answer for a change it never saw.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// Where each object is in AD now, by objectGUID: what a sync server's per-object lookups
    /// go by. Empty from a sender that predates it (the objects are then reported only by
    /// servers that report per run).
    #[serde(default)]
    pub located_at: BTreeMap<Uuid, Dn>,
    /// The objects may be provisioned on demand where the sync client can (Cloud Sync)
    /// instead of waiting for its schedule: only when each one's cloud object is live, since
    /// on-demand provisioning restores no soft-deleted object but makes a second one
    /// (domain-2026.md 1.1). Off unless the sender knows.
    #[serde(default)]
    pub provision_on_demand: bool,
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

/// One completed run, as a requester sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSeen {
    pub run_id: Uuid,
    pub policy_type: PolicyType,
    pub outcome: RunOutcome,
    #[serde(with = "time::serde::rfc3339")]
    pub start_date: OffsetDateTime,
    /// The run's outcome for the objects the request named (none for an object it did not
    /// touch: an earlier run may already have exported the change).
    pub objects: Vec<ObjectResult>,
    /// The whole run's counts on the cloud connector: how many deletions rode along, say.
    pub stats: RunStats,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncCycleCompleted {
    /// Every completed run that ended after the request's `since`, oldest first; at least the
    /// last of them started after it.
    pub runs: Vec<RunSeen>,
    /// How many requests were waiting on the newest of these runs.
    pub requests_coalesced: u32,
}

impl SyncCycleCompleted {
    /// What the runs did to `object`, oldest first.
    pub fn outcomes_for(&self, object: Uuid) -> impl Iterator<Item = &ObjectResult> {
        self.runs
            .iter()
            .flat_map(|run| run.objects.iter())
            .filter(move |o| o.object_guid == object)
    }
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
    pub included_containers: Vec<Dn>,
    /// What syncs the tenant: a Connect server, or Cloud Sync (whose agent's version Graph
    /// does not show, so `connect_version` then names the client only).
    #[serde(default)]
    pub sync_client: SyncClient,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncClient {
    #[default]
    Connect,
    CloudSync,
}
service_message!(ConnectStateRead, SyncTrigger, "connect-state-read", Event);
