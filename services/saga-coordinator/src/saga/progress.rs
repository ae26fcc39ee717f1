//! What a ticket is told: the milestones a change of phase reaches (diagnosed, awaiting
//! approval, each visible step done, compensating, needs attention, and one final word), as
//! plain data the shell publishes. Pure: the phase before and after in, milestones out.

use detour_contracts::{
    address::bare,
    saga_coordinator::{Outcome, Stage},
};

use super::{
    definition::Step,
    diagnosis::{Diagnosis, Plan, Strategy},
    remediation::Phase,
    seen::Seen,
    state::State,
};

/// One thing worth a ticket comment; `key` is unique within its remediation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milestone {
    pub key: String,
    pub stage: Stage,
    pub headline: String,
    pub details: Vec<String>,
}

/// The milestones reached going from `before` to `after`, in the order reached.
pub fn milestones(user: &str, before: &Phase, after: &Phase) -> Vec<Milestone> {
    let mut reached = Vec::new();
    if matches!(before, Phase::Diagnosing { .. }) {
        reached.extend(diagnosed(user, after));
    }
    let Phase::Running {
        plan, saga, seen, ..
    } = after
    else {
        return reached;
    };
    let (was_state, was_completed) = match before {
        Phase::Running { saga, .. } => (Some(&saga.state), saga.completed.as_slice()),
        _ => (None, [].as_slice()),
    };
    for step in saga.completed.iter().skip(was_completed.len()) {
        if let Some((key, headline)) = step_done(*step, user, plan) {
            reached.push(Milestone {
                key: format!("step:{key}"),
                stage: Stage::Phase,
                headline,
                details: Vec::new(),
            });
        }
    }
    if was_state != Some(&saga.state) {
        reached.extend(entered(user, plan, &saga.state, was_state, *seen));
    }
    reached
}

/// What the end of diagnosis says: a plan under way, or the one final word.
fn diagnosed(user: &str, after: &Phase) -> Option<Milestone> {
    let final_word = |outcome, headline: String, details| {
        Some(Milestone {
            key: "final".into(),
            stage: Stage::Final(outcome),
            headline,
            details,
        })
    };
    match after {
        Phase::Requested { .. } | Phase::Diagnosing { .. } => None,
        Phase::Queued { plan, .. } | Phase::Running { plan, .. } => Some(Milestone {
            key: "diagnosed".into(),
            stage: Stage::Diagnosed,
            headline: format!(
                "Diagnosed: {user} lacks {}. Detour will fix it {}.",
                bare(&plan.address),
                strategy_words(plan.strategy)
            ),
            details: plan_details(plan),
        }),
        Phase::Diagnosed {
            diagnosis: Diagnosis::Plan(plan),
        } => final_word(
            Outcome::Planned,
            format!(
                "Dry run: {user} lacks {}. This is the plan; nothing was changed.",
                bare(&plan.address)
            ),
            plan_details(plan),
        ),
        Phase::Diagnosed {
            diagnosis: Diagnosis::NothingToDo { address },
        } => final_word(
            Outcome::NothingToDo,
            format!("Nothing to do: {user} already has {}.", bare(address)),
            Vec::new(),
        ),
        Phase::Diagnosed {
            diagnosis: Diagnosis::Refused { refusal, detail },
        } => final_word(
            Outcome::Refused,
            format!("Refused: Detour will not change {user} ({refusal:?}). Nothing was changed."),
            vec![detail.clone()],
        ),
        Phase::Undiagnosable { reason } => final_word(
            Outcome::Undiagnosable,
            format!("Cannot diagnose {user}: nothing was changed."),
            vec![reason.clone()],
        ),
    }
}

/// The milestone of entering `state` (from `was`), if it is one a ticket hears about. A final
/// word about the user's address follows what the remediation last `seen` of the user.
fn entered(
    user: &str,
    plan: &Plan,
    state: &State,
    was: Option<&State>,
    seen: Option<Seen>,
) -> Option<Milestone> {
    let milestone = |key: String, stage, headline: String, details| {
        Some(Milestone {
            key,
            stage,
            headline,
            details,
        })
    };
    match state {
        State::New { .. } | State::Running { .. } => None,
        State::AwaitingApproval { plan_hash, .. } => milestone(
            "awaiting-approval".into(),
            Stage::AwaitingApproval,
            format!(
                "Waiting for approval of plan {plan_hash}: nothing changes until the ticket is approved."
            ),
            Vec::new(),
        ),
        State::Compensating { reason, .. }
            if !matches!(
                was,
                Some(State::Compensating { .. } | State::NeedsAttention { .. })
            ) =>
        {
            milestone(
                "compensating".into(),
                Stage::Compensating,
                format!("A step failed for good: Detour is putting {user} back as before."),
                vec![reason.clone()],
            )
        }
        State::Compensating { .. } => None,
        State::NeedsAttention {
            index,
            attempt,
            reason,
            plan: compensations,
        } => milestone(
            format!("needs-attention:{index}:{attempt}"),
            Stage::NeedsAttention,
            format!(
                "Needs attention: undoing {} keeps failing, so {user} may not be as before. \
                 An operator must retry or resolve it.",
                compensations
                    .get(*index)
                    .map_or_else(|| "a step".to_owned(), |c| format!("{c:?}"))
            ),
            vec![reason.clone()],
        ),
        State::Completed => milestone(
            "final".into(),
            Stage::Final(Outcome::Fixed),
            format!(
                "Fixed: {user} has {} and is synced as before (same object, group licence only).",
                bare(&plan.address)
            ),
            diff(plan),
        ),
        // Undone, yet the last read shows the address present and the user synced as before
        // (a later step failed after the address was added): that is fixed, and said so.
        State::Compensated { reason } if seen.is_some_and(|s| s.fixed()) => milestone(
            "final".into(),
            Stage::Final(Outcome::Fixed),
            format!(
                "Fixed: {user} has {} and is synced as before (same object), though a later \
                 step failed and was undone.",
                bare(&plan.address)
            ),
            vec![reason.clone()],
        ),
        State::Compensated { reason } => milestone(
            "final".into(),
            Stage::Final(Outcome::Compensated),
            match seen {
                Some(seen) if seen.has_address => format!(
                    "Not fixed: the remediation was undone; {user} has {} but is not synced as \
                     before.",
                    bare(&plan.address)
                ),
                _ => format!(
                    "Not fixed: the remediation was undone and {user} is back as before, \
                     without {}.",
                    bare(&plan.address)
                ),
            },
            vec![reason.clone()],
        ),
        State::Resolved { reason, note } => milestone(
            "final".into(),
            Stage::Final(Outcome::Resolved),
            format!("Resolved by an operator: {note}"),
            vec![reason.clone()],
        ),
    }
}

/// The key and headline of a step a ticket hears about when it is done.
fn step_done(step: Step, user: &str, plan: &Plan) -> Option<(&'static str, String)> {
    Some(match step {
        Step::AwaitSoftDelete => (
            "out-of-scope",
            format!("{user} is out of sync scope; its cloud user is soft-deleted."),
        ),
        Step::Restore => (
            "restored",
            format!("{user} is restored in the cloud, cloud-only for now."),
        ),
        Step::AddAddress => (
            "address-added",
            format!("{} is added to the mailbox.", bare(&plan.address)),
        ),
        Step::AwaitRematch => (
            "back-in-sync",
            format!("{user} is back in sync scope and matched to the same cloud object."),
        ),
        Step::SetCloudManaged => (
            "cloud-managed",
            format!("{user}'s Exchange attributes are now managed in the cloud."),
        ),
        _ => return None,
    })
}

fn strategy_words(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::RoundTrip => {
            "with the round trip: out of sync scope, restore, add the address, back in scope"
        }
        Strategy::CloudManaged => {
            "by making its Exchange attributes cloud-managed and adding the address"
        }
    }
}

fn plan_details(plan: &Plan) -> Vec<String> {
    let mut details = vec![format!("Plan {} ({:?}).", plan.hash(), plan.strategy)];
    details.extend(diff(plan));
    details
}

/// The proxy addresses the plan adds (`+`) and removes (`-`).
fn diff(plan: &Plan) -> Vec<String> {
    let added = plan
        .after
        .iter()
        .filter(|a| !plan.before.contains(a))
        .map(|a| format!("+ {a}"));
    let removed = plan
        .before
        .iter()
        .filter(|b| !plan.after.contains(b))
        .map(|b| format!("- {b}"));
    added.chain(removed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saga::{Refusal, Saga, diagnose, diagnosis::sample_facts, messages::SagaFacts};

    fn plan() -> Plan {
        match diagnose(&sample_facts(), false) {
            Diagnosis::Plan(plan) => plan,
            other => panic!("the sample is a plan, not {other:?}"),
        }
    }

    fn running(state: State, completed: &[Step]) -> Phase {
        Phase::Running {
            plan: plan(),
            facts: sample_saga_facts(),
            saga: Saga {
                state,
                completed: completed.to_vec(),
            },
            seen: None,
        }
    }

    fn sample_saga_facts() -> SagaFacts {
        SagaFacts {
            object_guid: uuid::Uuid::nil(),
            original_dn: "CN=Ada,OU=Staff,DC=corp".into(),
            parking_ou: "OU=Parked,DC=corp".into(),
            user_principal_name: USER.into(),
            cloud_id: uuid::Uuid::nil(),
            immutable_id: None,
            address: plan().address,
            temporary_sku: uuid::Uuid::nil(),
            usage_location: Some("GB".into()),
            snapshot_usn: None,
        }
    }

    fn keys(milestones: &[Milestone]) -> Vec<&str> {
        milestones.iter().map(|m| m.key.as_str()).collect()
    }

    const USER: &str = "ada@contoso.com";

    #[test]
    fn a_plan_under_way_is_announced_with_its_diff() {
        let before = Phase::Diagnosing {
            reads: Default::default(),
        };
        let after = Phase::Queued {
            plan: plan(),
            facts: sample_saga_facts(),
        };
        let reached = milestones(USER, &before, &after);
        assert_eq!(keys(&reached), ["diagnosed"]);
        assert!(
            reached[0]
                .details
                .iter()
                .any(|d| d == "+ smtp:ada@contoso.mail.onmicrosoft.com"),
            "{reached:?}"
        );
    }

    #[test]
    fn every_end_at_diagnosis_is_final() {
        let before = Phase::Diagnosing {
            reads: Default::default(),
        };
        for (after, outcome) in [
            (
                Phase::Diagnosed {
                    diagnosis: Diagnosis::Plan(plan()),
                },
                Outcome::Planned,
            ),
            (
                Phase::Diagnosed {
                    diagnosis: Diagnosis::NothingToDo {
                        address: "smtp:a@b".into(),
                    },
                },
                Outcome::NothingToDo,
            ),
            (
                Phase::Diagnosed {
                    diagnosis: Diagnosis::Refused {
                        refusal: Refusal::AdminRole,
                        detail: "an admin".into(),
                    },
                },
                Outcome::Refused,
            ),
            (
                Phase::Undiagnosable {
                    reason: "no answer".into(),
                },
                Outcome::Undiagnosable,
            ),
        ] {
            let reached = milestones(USER, &before, &after);
            assert_eq!(keys(&reached), ["final"]);
            assert_eq!(reached[0].stage, Stage::Final(outcome));
        }
    }

    #[test]
    fn visible_steps_are_phases_and_completion_is_final() {
        let before = running(
            State::Running {
                step: Step::AwaitRematch,
                attempt: 1,
                deadline: time::OffsetDateTime::UNIX_EPOCH,
            },
            &[Step::Snapshot, Step::AwaitSoftDelete, Step::Restore],
        );
        let after = running(
            State::Completed,
            &[
                Step::Snapshot,
                Step::AwaitSoftDelete,
                Step::Restore,
                Step::AddAddress,
                Step::AwaitRematch,
                Step::Verify,
            ],
        );
        let reached = milestones(USER, &before, &after);
        assert_eq!(
            keys(&reached),
            ["step:address-added", "step:back-in-sync", "final"]
        );
        assert_eq!(reached[2].stage, Stage::Final(Outcome::Fixed));
    }

    #[test]
    fn compensation_is_announced_once_then_its_end_is_final() {
        let compensating = |index| {
            running(
                State::Compensating {
                    plan: vec![crate::saga::Compensation::MoveBack; 2],
                    index,
                    attempt: 1,
                    reason: "restore failed".into(),
                },
                &[],
            )
        };
        let started = running(
            State::Running {
                step: Step::Restore,
                attempt: 1,
                deadline: time::OffsetDateTime::UNIX_EPOCH,
            },
            &[],
        );
        assert_eq!(
            keys(&milestones(USER, &started, &compensating(0))),
            ["compensating"]
        );
        assert!(milestones(USER, &compensating(0), &compensating(1)).is_empty());
        let done = running(
            State::Compensated {
                reason: "restore failed".into(),
            },
            &[],
        );
        let reached = milestones(USER, &compensating(1), &done);
        assert_eq!(reached[0].stage, Stage::Final(Outcome::Compensated));
        assert!(reached[0].headline.contains("without"), "{reached:?}");
    }

    #[test]
    fn the_final_word_follows_what_was_last_seen_of_the_user_not_the_path() {
        let undoing = running(
            State::Compensating {
                plan: vec![crate::saga::Compensation::VerifyRestored],
                index: 0,
                attempt: 1,
                reason: "SyncIn failed".into(),
            },
            &[],
        );
        let undone = |seen| {
            let Phase::Running {
                plan, facts, saga, ..
            } = running(
                State::Compensated {
                    reason: "SyncIn failed".into(),
                },
                &[],
            )
            else {
                unreachable!()
            };
            Phase::Running {
                plan,
                facts,
                saga,
                seen: Some(seen),
            }
        };
        // The address was added before the failure, and the user re-matched all the same.
        let fixed = Seen {
            has_address: true,
            synced_as_before: true,
        };
        let reached = milestones(USER, &undoing, &undone(fixed));
        assert_eq!(
            reached[0].stage,
            Stage::Final(Outcome::Fixed),
            "{reached:?}"
        );
        assert!(reached[0].headline.starts_with("Fixed:"));

        let unsynced = Seen {
            has_address: true,
            synced_as_before: false,
        };
        let reached = milestones(USER, &undoing, &undone(unsynced));
        assert_eq!(reached[0].stage, Stage::Final(Outcome::Compensated));
        assert!(!reached[0].headline.contains("without"), "{reached:?}");
    }

    #[test]
    fn the_same_phase_reaches_nothing() {
        let phase = running(State::Completed, &[]);
        assert!(milestones(USER, &phase, &phase).is_empty());
    }
}
