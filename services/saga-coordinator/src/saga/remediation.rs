//! One remediation from request to end, around the saga: gather the diagnosis's reads, diagnose,
//! wait for admission, then run the saga, turning each step service's answer into the saga's
//! input. Pure, like `decide`: what happened comes in, the next phase and the effects go out.

use detour_contracts::{Dn, ProxyAddress};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use self::{gathering::gathered, timeline::describe};
use super::{
    decide::decide,
    definition::{Definition, Step, Timing},
    diagnosis::{Diagnosis, Plan, Strategy},
    messages::{
        SagaFacts, StepAnswer, StepCommand, StepEvent, compensation_command, interpret,
        interpret_compensation, step_command,
    },
    seen::Seen,
    state::{Command, Input, Saga, ScheduledTimer, State, Timer},
};

/// How this coordinator remediates: from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The hybrid coexistence domain, e.g. `contoso.mail.onmicrosoft.com`.
    pub coexistence_domain: String,
    /// The out-of-scope OU users are parked in during a round trip.
    pub parking_ou: Dn,
    /// Whether Connect syncs the parking OU (then parking would not descope anyone).
    pub parking_ou_in_scope: bool,
    /// The SKU given directly while the group's licence is gone.
    pub temporary_sku: Uuid,
    /// For the temporary licence of a user who has no usage location of its own.
    pub default_usage_location: Option<String>,
    /// The rungs this deployment allows, in the order it prefers them (`saga.strategies`).
    pub strategies: Vec<Strategy>,
    /// A user made cloud-managed goes back to AD once fixed (`saga.return_user_to_ad`).
    pub return_user_to_ad: bool,
    /// A mailbox whose Exchange attributes were made cloud-managed goes back to AD once fixed
    /// (`saga.return_mailbox_to_ad`).
    pub return_mailbox_to_ad: bool,
    /// Hold each saga before its first write until an approval names its plan.
    pub approval_required: bool,
    pub timing: Timing,
}

impl Policy {
    /// The steps of `plan`'s rung.
    pub fn definition(&self, plan: &Plan) -> Definition {
        match plan.strategy {
            Strategy::OnPremisesStamp => Definition::on_premises_stamp(self.timing),
            Strategy::RoundTrip => Definition::round_trip(self.timing),
            Strategy::CloudManaged => Definition::cloud_managed(self.timing, plan.back_to_ad),
            Strategy::UserCloudManaged => {
                Definition::user_cloud_managed(self.timing, plan.back_to_ad)
            }
        }
    }
}

/// What a command sent on a remediation's behalf was for: its answer is read in this light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "kebab-case")]
pub enum Purpose {
    Read {
        read: Read,
        /// Which of the remediation's diagnoses asked (see `Reads::round`): an answer to an
        /// earlier one's read says nothing about the user as it is now.
        #[serde(default)]
        round: u32,
    },
    Step {
        step: Step,
        attempt: u32,
    },
    Compensation {
        index: usize,
        attempt: u32,
    },
    /// The takeover lease's own command (`takeover`), not a saga's.
    Lease,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
#[expect(
    clippy::large_enum_variant,
    reason = "one per remediation in hand, loaded and stored whole"
)]
pub enum Phase {
    /// Waiting for one of the `max_diagnosing` diagnosis slots: nothing sent yet, so a burst
    /// of a thousand requests never queues its reads ahead of running sagas' steps.
    Requested {
        user: String,
        /// An address an earlier plan of this remediation already added (the routing address,
        /// before the MOERA's own diagnosis).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        earlier: Option<ProxyAddress>,
    },
    Diagnosing {
        reads: Reads,
    },
    /// Ended at diagnosis: nothing to do, refused, or (a dry run) the plan it would follow.
    Diagnosed {
        diagnosis: Diagnosis,
    },
    /// A read failed, so no diagnosis could be made; nothing was changed.
    Undiagnosable {
        reason: String,
    },
    /// Waiting for a descope slot (admission).
    Queued {
        plan: Plan,
        facts: SagaFacts,
    },
    Running {
        plan: Plan,
        facts: SagaFacts,
        saga: Saga,
        /// The user as the remediation's last cloud read showed it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seen: Option<Seen>,
    },
}

/// What can happen to a remediation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per message handled, never stored in bulk"
)]
pub enum Event {
    /// A step service answered a command sent for `purpose`.
    Answered { purpose: Purpose, answer: StepEvent },
    /// A read or step command could not be delivered or was dead-lettered.
    Undeliverable { purpose: Purpose, reason: String },
    /// Admission let a requested remediation start diagnosing, or a queued round trip start.
    Admitted,
    /// A timer, an approval, an abort, a retry or a resolution, straight to the saga.
    Saga(Input),
}

/// The next phase and what to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub next: Phase,
    pub sends: Vec<(Purpose, StepCommand)>,
    pub timers: Vec<ScheduledTimer>,
    /// What the saga made of the event, for the audit trail (`None`: it changed nothing).
    pub note: Option<String>,
}

impl Advance {
    fn unchanged(phase: &Phase) -> Self {
        Self {
            next: phase.clone(),
            sends: Vec::new(),
            timers: Vec::new(),
            note: None,
        }
    }

    fn to(next: Phase, note: impl Into<String>) -> Self {
        Self {
            next,
            sends: Vec::new(),
            timers: Vec::new(),
            note: Some(note.into()),
        }
    }
}

/// A new remediation for `user`: it sends nothing until admission gives it a diagnosis slot.
pub fn requested(user: &str) -> Phase {
    Phase::Requested {
        user: user.to_owned(),
        earlier: None,
    }
}

/// Diagnosing `user` (after `earlier` was added, when this is the MOERA's own diagnosis): the
/// reads to send, and the time by which they must all be answered.
pub fn begin(
    policy: &Policy,
    user: &str,
    earlier: Option<ProxyAddress>,
    now: OffsetDateTime,
) -> Advance {
    let deadline = now + policy.timing.action_deadline;
    let reads = Reads {
        earlier,
        deadline: Some(deadline),
        ..Reads::default()
    };
    let round = reads.round();
    Advance {
        next: Phase::Diagnosing { reads },
        sends: Read::FIRST
            .iter()
            .map(|read| (Purpose::Read { read: *read, round }, read.command(user)))
            .collect(),
        timers: vec![ScheduledTimer {
            at: deadline,
            timer: Timer::DiagnosisDeadline,
        }],
        note: Some(
            "diagnosing: reading AD, the cloud user, the mailbox, tenant, Connect and Exchange's \
             accepted domains"
                .into(),
        ),
    }
}

pub fn advance(
    policy: &Policy,
    phase: &Phase,
    dry_run: bool,
    event: &Event,
    now: OffsetDateTime,
) -> Advance {
    match (phase, event) {
        (Phase::Requested { user, earlier }, Event::Admitted) => {
            begin(policy, user, earlier.clone(), now)
        }
        (
            Phase::Diagnosing { reads },
            Event::Answered {
                purpose: Purpose::Read { read, round },
                answer,
            },
        ) if *round == reads.round() => gathered(policy, reads, *read, answer, dry_run),
        (
            Phase::Diagnosing { reads },
            Event::Undeliverable {
                purpose: Purpose::Read { read, round },
                reason,
            },
        ) if *round == reads.round() => Advance::to(
            Phase::Undiagnosable {
                reason: format!("the {read:?} read failed: {reason}"),
            },
            format!("cannot diagnose: the {read:?} read failed: {reason}"),
        ),
        // An earlier diagnosis's deadline (it has no field to tell) is not this one's.
        (Phase::Diagnosing { reads }, Event::Saga(Input::Timer(Timer::DiagnosisDeadline)))
            if reads.deadline.is_none_or(|at| now >= at) =>
        {
            let missing: Vec<String> = reads
                .missing()
                .iter()
                .map(|read| format!("{read:?}"))
                .collect();
            let reason = format!(
                "no answer to the {} read(s) in time: is the service running?",
                missing.join(", ")
            );
            Advance::to(
                Phase::Undiagnosable {
                    reason: reason.clone(),
                },
                format!("cannot diagnose: {reason}"),
            )
        }
        (Phase::Queued { plan, facts }, Event::Admitted) => {
            let saga = if policy.approval_required {
                Saga::gated(plan.hash())
            } else {
                Saga::new()
            };
            let running = Phase::Running {
                plan: plan.clone(),
                facts: facts.clone(),
                saga,
                seen: None,
            };
            let mut started = advance(policy, &running, dry_run, &Event::Saga(Input::Start), now);
            if started.note.is_none() {
                started.note = Some("admitted".into());
            }
            started
        }
        (
            Phase::Running {
                plan,
                facts,
                saga,
                seen,
            },
            event,
        ) => {
            let Some((input, missing)) = saga_input(saga, facts, event) else {
                return Advance::unchanged(phase);
            };
            let facts = &snapshotted(facts, event);
            let definition = policy.definition(plan);
            let decision = decide(&definition, saga, &input, now);
            if decision.next == *saga && decision.commands.is_empty() && decision.timers.is_empty()
            {
                return Advance::unchanged(phase);
            }
            let sends = decision
                .commands
                .iter()
                .map(|command| match *command {
                    Command::Execute { step, attempt } => (
                        Purpose::Step { step, attempt },
                        step_command(step, facts, now),
                    ),
                    Command::Compensate {
                        compensation,
                        index,
                        attempt,
                    } => (
                        Purpose::Compensation { index, attempt },
                        compensation_command(compensation, facts, now),
                    ),
                })
                .collect();
            let mut note = describe(&input, &decision.next.state);
            if let Some(missing) = missing {
                note = format!("{note} ({missing})");
            }
            // Undone cleanly, and a later rung applies: the remediation goes on with it.
            if let State::Compensated { reason } = &decision.next.state
                && let Some(fallback) = plan.fallback(reason)
            {
                let next = fallback.strategy;
                return Advance::to(
                    Phase::Queued {
                        plan: fallback,
                        facts: facts.clone(),
                    },
                    format!("{note}; falling back to {next:?}, waiting for admission"),
                );
            }
            // The routing address is in place and the MOERA is missing too: diagnose again,
            // so the MOERA gets a plan of its own on the user as it is now.
            if decision.next.state == State::Completed && plan.moera_missing_too {
                return Advance::to(
                    Phase::Requested {
                        user: facts.user_principal_name.clone(),
                        earlier: Some(plan.address.clone()),
                    },
                    format!("{note}; the MOERA is missing too: diagnosing again for it"),
                );
            }
            let seen = match event {
                Event::Answered {
                    answer: StepEvent::CloudUserRead(read),
                    ..
                } => Some(Seen::of(read, facts)),
                _ => *seen,
            };
            Advance {
                next: Phase::Running {
                    plan: plan.clone(),
                    facts: facts.clone(),
                    saga: decision.next,
                    seen,
                },
                sends,
                timers: decision.timers,
                note: Some(note),
            }
        }
        _ => Advance::unchanged(phase),
    }
}

/// When a command sent for `purpose`, on the way to `next`, stops being wanted: a step's
/// command at that step's deadline (the saga fails the step then, and a copy carried out
/// later would act behind its back), any other at the action deadline after `now`, by which
/// its read or compensation is failed or asked again. A step service dead-letters a copy
/// delivered after it.
pub fn command_expiry(
    policy: &Policy,
    next: &Phase,
    purpose: &Purpose,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let step_deadline = match (next, purpose) {
        (
            Phase::Running {
                saga:
                    Saga {
                        state:
                            State::Running {
                                step: running,
                                deadline,
                                ..
                            },
                        ..
                    },
                ..
            },
            Purpose::Step { step, .. },
        ) if running == step => Some(*deadline),
        _ => None,
    };
    step_deadline.unwrap_or(now + policy.timing.action_deadline)
}

/// The facts with the Snapshot step's `uSNChanged` recorded, when `event` is its answer.
fn snapshotted(facts: &SagaFacts, event: &Event) -> SagaFacts {
    let mut facts = facts.clone();
    if let Event::Answered {
        purpose: Purpose::Step {
            step: Step::Snapshot,
            ..
        },
        answer: StepEvent::UserFound(found),
    } = event
    {
        facts.snapshot_usn = Some(found.snapshot.usn_changed);
    }
    facts
}

/// What a step service's answer (or its absence) means to the saga, as its input; `None` for
/// an answer that belongs to no step of it.
/// Also says, for a wait's "not yet", what is still missing.
fn saga_input(saga: &Saga, facts: &SagaFacts, event: &Event) -> Option<(Input, Option<String>)> {
    let failed = |purpose: &Purpose, reason: String| match *purpose {
        Purpose::Step { step, attempt } => Some(Input::StepFailed {
            step,
            attempt,
            reason,
        }),
        Purpose::Compensation { index, attempt } => Some(Input::CompensationFailed {
            index,
            attempt,
            reason,
        }),
        Purpose::Read { .. } | Purpose::Lease => None,
    };
    let input = match event {
        Event::Saga(input) => Some(input.clone()),
        Event::Admitted => None,
        Event::Undeliverable { purpose, reason } => failed(purpose, reason.clone()),
        Event::Answered {
            purpose: Purpose::Step { step, attempt },
            answer,
        } => {
            let (step, attempt) = (*step, *attempt);
            return Some(match interpret(step, answer, facts) {
                StepAnswer::Done => (Input::StepDone { step, attempt }, None),
                StepAnswer::NotYet(why) => (Input::StepNotYet { step, attempt }, Some(why)),
                StepAnswer::Failed(reason) => (
                    Input::StepFailed {
                        step,
                        attempt,
                        reason,
                    },
                    None,
                ),
            });
        }
        Event::Answered {
            purpose: purpose @ Purpose::Compensation { index, attempt },
            answer,
        } => {
            // The plan is the saga's own: an answer for an index it does not have is stale.
            let compensation = match &saga.state {
                State::Compensating { plan, .. } => *plan.get(*index)?,
                _ => return None,
            };
            match interpret_compensation(compensation, answer, facts) {
                StepAnswer::Done => Some(Input::CompensationDone {
                    index: *index,
                    attempt: *attempt,
                }),
                StepAnswer::NotYet(why) => failed(
                    purpose,
                    format!("{compensation:?}: the user is not back as before yet: {why}"),
                ),
                StepAnswer::Failed(reason) => failed(purpose, reason),
            }
        }
        Event::Answered {
            purpose: Purpose::Read { .. } | Purpose::Lease,
            ..
        } => None,
    };
    input.map(|input| (input, None))
}

#[cfg(test)]
mod fixture;
mod gathering;
mod phase;
#[cfg(test)]
mod tests;
mod timeline;

#[cfg(test)]
pub(crate) use fixture::sample_round_trip;
pub use gathering::{Read, Reads};
