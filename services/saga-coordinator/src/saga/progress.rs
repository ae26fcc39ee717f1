//! What a ticket is told: the milestones a change of phase reaches (diagnosed, awaiting
//! approval, each visible step done, compensating, needs attention, and one final word), as
//! plain data the shell publishes. Pure: the phase before and after in, milestones out.

use detour_contracts::{
    ProxyAddress,
    saga_coordinator::{Outcome, Stage},
};

use super::{
    definition::Step,
    diagnosis::{Diagnosis, Missing, Plan, Strategy},
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
    if let Phase::Diagnosing { reads } = before {
        reached.extend(diagnosed(user, after, reads.earlier.as_ref()));
    }
    if let (Phase::Running { plan: tried, .. }, Phase::Queued { plan, .. }) = (before, after) {
        reached.push(fell_back(user, tried, plan));
    }
    if let (Phase::Running { plan, .. }, Phase::Requested { .. }) = (before, after) {
        reached.push(Milestone {
            key: "routing-fixed".into(),
            stage: Stage::Phase,
            headline: format!(
                "{} is in place for {user}. The MOERA is missing too: Detour diagnoses {user} \
                 again for it.",
                plan.address.address()
            ),
            details: Vec::new(),
        });
    }
    let Phase::Running {
        plan, saga, seen, ..
    } = after
    else {
        return second_pass(reached, after);
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
    second_pass(reached, after)
}

/// A MOERA's plan may follow the routing address's in the same remediation: its milestones
/// get keys of their own (the final word stays the one final word).
fn second_pass(mut reached: Vec<Milestone>, after: &Phase) -> Vec<Milestone> {
    let plan = match after {
        Phase::Queued { plan, .. } | Phase::Running { plan, .. } => Some(plan),
        Phase::Diagnosed {
            diagnosis: Diagnosis::Plan(plan),
        } => Some(plan),
        _ => None,
    };
    if plan.is_some_and(|p| p.missing == Missing::Moera) {
        for milestone in reached.iter_mut().filter(|m| m.key != "final") {
            milestone.key = format!("moera:{}", milestone.key);
        }
    }
    reached
}

/// A rung that turned out not to work here, undone, and the next one taken.
fn fell_back(user: &str, tried: &Plan, plan: &Plan) -> Milestone {
    let why = plan
        .skipped
        .last()
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    Milestone {
        key: format!("fallback:{:?}", plan.strategy),
        stage: Stage::Phase,
        headline: format!(
            "{} did not work for {user} and was undone; Detour now fixes it {}.",
            capitalised(tried.strategy.words()),
            strategy_words(plan.strategy)
        ),
        details: [vec![why], plan_details(plan)].concat(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the end of diagnosis says: a plan under way, or the one final word. After an earlier
/// plan of the same remediation added an address, the final word says so rather than that
/// nothing was changed.
fn diagnosed(user: &str, after: &Phase, earlier: Option<&ProxyAddress>) -> Option<Milestone> {
    let final_word = |outcome, headline: String, details| {
        let headline = match earlier {
            Some(added) => format!(
                "{} was added earlier in this remediation. {}",
                added.address(),
                headline.replace("Nothing was changed.", "Nothing more was changed.")
            ),
            None => headline,
        };
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
                "Diagnosed: {user} lacks {}, {}. Detour will fix it {}.",
                plan.address.address(),
                plan.missing.words(),
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
                plan.address.address()
            ),
            plan_details(plan),
        ),
        Phase::Diagnosed {
            diagnosis: Diagnosis::NothingToDo { address },
        } => final_word(
            Outcome::NothingToDo,
            format!("Nothing to do: {user} already has {}.", address.address()),
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
        // By plan: a fallback's plan is another one, approved on its own.
        State::AwaitingApproval { plan_hash, .. } => milestone(
            format!("awaiting-approval:{plan_hash}"),
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
                plan.address.address()
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
                plan.address.address()
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
                    plan.address.address()
                ),
                _ => format!(
                    "Not fixed: the remediation was undone and {user} is back as before, \
                     without {}.",
                    plan.address.address()
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
            format!("{} is added to the mailbox.", plan.address.address()),
        ),
        Step::AwaitRematch => (
            "back-in-sync",
            format!("{user} is back in sync scope and matched to the same cloud object."),
        ),
        Step::SetCloudManaged => (
            "cloud-managed",
            format!("{user}'s Exchange attributes are now managed in the cloud."),
        ),
        Step::StampAddress => (
            "stamped",
            format!(
                "{} is added to {user}'s proxyAddresses in Active Directory.",
                plan.address.address()
            ),
        ),
        Step::HandMailboxBackToAd => (
            "mailbox-back-to-ad",
            format!("{user}'s Exchange attributes are managed in Active Directory again."),
        ),
        Step::HandToCloud => (
            "user-cloud-managed",
            format!("{user} is cloud-managed for now: the cloud is its source of authority."),
        ),
        Step::ReleaseTakeoverLease => (
            "back-to-ad",
            format!("{user} is back under Active Directory, the same object, synced again."),
        ),
        Step::AwaitAddressInExchange => (
            "address-synced",
            format!(
                "The sync carried {} to Exchange Online.",
                plan.address.address()
            ),
        ),
        _ => return None,
    })
}

fn strategy_words(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::OnPremisesStamp => {
            "by adding it to the user in Active Directory and syncing (no deletion)"
        }
        Strategy::CloudManaged => {
            "by making its Exchange attributes cloud-managed and adding the address (no deletion)"
        }
        Strategy::UserCloudManaged => {
            "by making the whole user cloud-managed, adding the address, and handing the user \
             back to Active Directory where policy says so (no deletion)"
        }
        Strategy::RoundTrip => {
            "with the round trip: out of sync scope, restore, add the address, back in scope"
        }
    }
}

/// The plan's hash and rung, why each gentler rung was passed over, and the diff.
fn plan_details(plan: &Plan) -> Vec<String> {
    let mut details = vec![format!("Plan {} ({:?}).", plan.hash(), plan.strategy)];
    if plan.moera_missing_too {
        details.push("The MOERA is missing too: it gets a plan of its own after this one.".into());
    }
    details.extend(
        plan.skipped
            .iter()
            .map(|skipped| format!("Not {}: {}.", skipped.strategy.words(), skipped.reason)),
    );
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
mod tests;
