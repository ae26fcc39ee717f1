//! The conditions a step's answer is judged by: what the sync runs since an AD change say of
//! the user (taken out of the cloud, joined back, never doubled), and what a cloud read shows
//! (the same object, the address, synced or cloud-managed as the rung wants).

use detour_contracts::{
    cloud_directory::{CloudUserRead, CloudUserState},
    connect_agent::{ObjectOutcome, ObjectResult, RunOutcome},
    sync_trigger::SyncCycleCompleted,
};

use super::{SagaFacts, StepAnswer};

pub(super) const DUPLICATE_OBJECT: &str =
    "the cycle created a second cloud object instead of matching";

/// The cycles must have taken this user out of the cloud, and stopped for nothing [S19]. Judged
/// by the user's state, not by which run did it: a run that deleted it (whoever started it)
/// is enough, and when no run since the move reports it (an earlier cycle already exported the
/// move), the next step reads the deleted items to confirm the soft delete.
pub(super) fn sync_out(runs: &SyncCycleCompleted, facts: &SagaFacts) -> StepAnswer {
    if runs
        .outcomes_for(facts.object_guid)
        .any(|o| o.outcome == ObjectOutcome::Deleted)
    {
        return StepAnswer::Done;
    }
    let stopped = runs
        .runs
        .iter()
        .any(|run| run.outcome == RunOutcome::StoppedDeletionThresholdExceeded);
    let last_error = runs
        .outcomes_for(facts.object_guid)
        .filter(|o| o.outcome == ObjectOutcome::Error)
        .last();
    match (stopped, last_error) {
        (true, _) => {
            StepAnswer::Failed("the accidental-delete threshold stopped the export".into())
        }
        (false, Some(error)) => StepAnswer::Failed(format!(
            "the cycle could not take the user out of the cloud: {}",
            error.detail
        )),
        (false, None) => StepAnswer::Done,
    }
}

/// How the user came back into the cloud over the runs since it was moved back.
pub(super) enum Rejoin {
    /// Joined to a cloud object (matched, or updated in place).
    Joined,
    /// A second cloud object was created.
    Duplicate,
    /// The newest word on it is an export error.
    Error(String),
    /// No run since the move reports it: an earlier cycle exported it, or none needed to.
    NotReported,
}

pub(super) fn rejoin(runs: &SyncCycleCompleted, facts: &SagaFacts) -> Rejoin {
    let outcomes: Vec<&ObjectResult> = runs
        .outcomes_for(facts.object_guid)
        .filter(|o| o.outcome != ObjectOutcome::Filtered)
        .collect();
    if outcomes.iter().any(|o| o.outcome == ObjectOutcome::Added) {
        return Rejoin::Duplicate;
    }
    match outcomes.last() {
        None => Rejoin::NotReported,
        Some(o) if o.outcome == ObjectOutcome::Error => Rejoin::Error(o.detail.clone()),
        Some(_) => Rejoin::Joined,
    }
}

/// The cycles must have joined the user to its cloud object: a new object would be a
/// duplicate. When no run since the move reports it, the re-match step that follows reads the
/// cloud user to confirm it is the same object, synced.
pub(super) fn sync_in(runs: &SyncCycleCompleted, facts: &SagaFacts) -> StepAnswer {
    match rejoin(runs, facts) {
        Rejoin::Joined | Rejoin::NotReported => StepAnswer::Done,
        Rejoin::Duplicate => StepAnswer::Failed(DUPLICATE_OBJECT.into()),
        Rejoin::Error(detail) => {
            StepAnswer::Failed(format!("the cycle did not match the user: {detail}"))
        }
    }
}

/// The same object, synced again, holding again every licence it had from groups: only then
/// may the temporary licence go.
pub(super) fn rematched(read: &CloudUserRead, facts: &SagaFacts) -> StepAnswer {
    let Some(user) = read
        .user
        .as_ref()
        .filter(|u| u.id == facts.cloud_id && u.on_premises_sync_enabled == Some(true))
    else {
        return StepAnswer::NotYet("not the same object, synced again, yet".into());
    };
    let missing: Vec<String> = facts
        .group_licences
        .iter()
        .filter(|sku| {
            !user
                .licenses
                .iter()
                .any(|l| l.sku_id == **sku && l.assigned_by_group.is_some())
        })
        .map(ToString::to_string)
        .collect();
    if missing.is_empty() {
        StepAnswer::Done
    } else {
        StepAnswer::NotYet(format!(
            "synced again, but its group licences are not back yet ({})",
            missing.join(", ")
        ))
    }
}

/// Address present, synced, the same object and anchor, licences from groups only. Not yet
/// is the answer while any of it is missing: reads lag writes, and the step's deadline ends
/// the wait.
pub(super) fn verify(read: &CloudUserRead, facts: &SagaFacts) -> StepAnswer {
    checked(read, facts, |user| {
        vec![
            (user.on_premises_sync_enabled != Some(true), "not synced"),
            (
                user.on_premises_immutable_id != facts.immutable_id,
                "a different source anchor",
            ),
            (
                user.licenses.iter().any(|l| l.assigned_by_group.is_none()),
                "a direct licence remains",
            ),
        ]
    })
}

/// Where the user stays cloud-managed: the same object, no longer synced from AD, with the
/// address.
pub(super) fn verify_cloud_managed(read: &CloudUserRead, facts: &SagaFacts) -> StepAnswer {
    checked(read, facts, |user| {
        vec![(
            user.on_premises_sync_enabled == Some(true),
            "still synced from AD",
        )]
    })
}

/// Done when the read shows the same cloud object with the address and none of `more`'s
/// problems; else not yet, naming what is wrong.
fn checked(
    read: &CloudUserRead,
    facts: &SagaFacts,
    more: impl FnOnce(&CloudUserState) -> Vec<(bool, &'static str)>,
) -> StepAnswer {
    let Some(user) = &read.user else {
        return StepAnswer::NotYet("no live user in the cloud".into());
    };
    let mut checks = vec![
        (user.id != facts.cloud_id, "a different cloud object"),
        (
            !user
                .proxy_addresses
                .iter()
                .any(|a| facts.address.same_as(a)),
            "the address is missing",
        ),
    ];
    checks.extend(more(user));
    let problems: Vec<&str> = checks
        .into_iter()
        .filter_map(|(bad, what)| bad.then_some(what))
        .collect();
    if problems.is_empty() {
        StepAnswer::Done
    } else {
        StepAnswer::NotYet(problems.join(", "))
    }
}
