//! What sync-trigger knows of Connect's runs, as plain data: which runs there are (from the
//! server's own run history, so a restart loses nothing), each completed one's per-object
//! outcomes once fetched, and which waiting requests a run answers. No I/O: the runner feeds
//! it what the agent said.

use std::{collections::HashMap, sync::Arc};

use detour_contracts::{
    connect_agent::{ObjectResult, PolicyType, RunOutcome, RunResult},
    sync_trigger::{RunSeen, RunStats},
};
use time::OffsetDateTime;
use uuid::Uuid;

/// A completed run with its per-object outcomes indexed by objectGUID, shared by every
/// request it answers (one copy however many wait on it).
#[derive(Debug)]
pub struct CompletedRun {
    pub run_id: Uuid,
    pub policy_type: PolicyType,
    pub outcome: RunOutcome,
    pub start_date: OffsetDateTime,
    pub end_date: OffsetDateTime,
    pub stats: RunStats,
    objects: Vec<ObjectResult>,
    by_object: HashMap<Uuid, Vec<usize>>,
}

impl CompletedRun {
    /// `None` for a run still in progress.
    pub fn new(run: RunResult) -> Option<Self> {
        let end_date = run.end_date?;
        if run.outcome == RunOutcome::InProgress {
            return None;
        }
        let mut by_object: HashMap<Uuid, Vec<usize>> = HashMap::new();
        for (index, object) in run.objects.iter().enumerate() {
            by_object.entry(object.object_guid).or_default().push(index);
        }
        let stats = run
            .connectors
            .first()
            .map_or_else(RunStats::default, |c| RunStats {
                adds: c.adds,
                updates: c.updates,
                deletes: c.deletes,
                errors: c.errors,
            });
        Some(Self {
            run_id: run.run_id,
            policy_type: run.policy_type,
            outcome: run.outcome,
            start_date: run.start_date,
            end_date,
            stats,
            objects: run.objects,
            by_object,
        })
    }

    /// The run as a requester naming `objects` sees it.
    pub fn seen_by(&self, objects: &[Uuid]) -> RunSeen {
        RunSeen {
            run_id: self.run_id,
            policy_type: self.policy_type,
            outcome: self.outcome,
            start_date: self.start_date,
            objects: objects
                .iter()
                .flat_map(|guid| self.by_object.get(guid).into_iter().flatten())
                .map(|index| self.objects[*index].clone())
                .collect(),
            stats: self.stats,
        }
    }
}

/// A run as the history lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub run_id: Uuid,
    pub start_date: OffsetDateTime,
    /// `None` while it runs.
    pub end_date: Option<OffsetDateTime>,
}

impl Listed {
    pub fn of(run: &RunResult) -> Self {
        let running = run.outcome == RunOutcome::InProgress;
        Self {
            run_id: run.run_id,
            start_date: run.start_date,
            end_date: if running { None } else { run.end_date },
        }
    }
}

/// The runs Connect lists, and the completed ones fetched whole.
#[derive(Debug, Default)]
pub struct History {
    listed: Vec<Listed>,
    fetched: HashMap<Uuid, Arc<CompletedRun>>,
}

impl History {
    /// Takes the newest listing (any order) and forgets fetched runs no request can need:
    /// those that ended before `oldest_since`, and those no longer listed.
    pub fn relist(&mut self, mut listed: Vec<Listed>, oldest_since: Option<OffsetDateTime>) {
        listed.sort_by_key(|run| run.start_date);
        self.listed = listed;
        let keep: Vec<Uuid> = self
            .listed
            .iter()
            .filter(|run| {
                run.end_date
                    .is_some_and(|end| oldest_since.is_some_and(|since| end >= since))
            })
            .map(|run| run.run_id)
            .collect();
        self.fetched.retain(|id, _| keep.contains(id));
    }

    /// Completed runs a request with `since` needs that are not fetched yet.
    pub fn to_fetch(&self, since: OffsetDateTime) -> Vec<Uuid> {
        self.listed
            .iter()
            .filter(|run| run.end_date.is_some_and(|end| end >= since))
            .filter(|run| !self.fetched.contains_key(&run.run_id))
            .map(|run| run.run_id)
            .collect()
    }

    pub fn fetched(&mut self, run: CompletedRun) {
        self.fetched.insert(run.run_id, Arc::new(run));
    }

    /// Whether a cycle that started at or after `since` is running or done: then no new cycle
    /// is needed for that request.
    pub fn covers(&self, since: OffsetDateTime) -> bool {
        self.listed.iter().any(|run| run.start_date >= since)
    }

    pub fn running(&self) -> bool {
        self.listed.iter().any(|run| run.end_date.is_none())
    }

    /// The answer for a request with `since`, once a run that started at or after it has
    /// completed and been fetched: every completed run that ended after `since`, oldest first.
    /// Runs listed but not fetched (a failed fetch) hold the answer back.
    pub fn answer(&self, since: OffsetDateTime) -> Option<Vec<Arc<CompletedRun>>> {
        let done_after = self
            .listed
            .iter()
            .any(|run| run.start_date >= since && run.end_date.is_some());
        if !done_after {
            return None;
        }
        self.listed
            .iter()
            .filter(|run| run.end_date.is_some_and(|end| end >= since))
            .map(|run| self.fetched.get(&run.run_id).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests;
