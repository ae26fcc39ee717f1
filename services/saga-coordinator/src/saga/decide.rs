//! The saga's transitions as one pure function: no I/O, no clock (time comes in), no logging.
//! An input that does not match where the saga is (a duplicate, a stale attempt, a step it is
//! not at, anything after the end) changes nothing and asks for nothing.

use time::OffsetDateTime;

use super::{
    definition::{Compensation, Definition, Step, StepKind},
    plan_hash::PlanHash,
    state::{Command, Decision, Input, Saga, ScheduledTimer, State, Timer},
};

pub fn decide(
    definition: &Definition,
    saga: &Saga,
    input: &Input,
    now: OffsetDateTime,
) -> Decision {
    let done = &saga.completed;
    match (&saga.state, input) {
        (State::New { approval }, Input::Start) => start(definition, saga, approval.as_ref(), now),
        // Only an approval of this very plan lets it go; one for another plan changes nothing.
        (State::AwaitingApproval { step, plan_hash }, Input::Approve { plan_hash: given })
            if given == plan_hash =>
        {
            run(definition, done.clone(), *step, now)
        }
        (
            State::Running { step, attempt, .. },
            Input::StepDone {
                step: s,
                attempt: a,
            },
        ) if (s, a) == (step, attempt) => step_done(definition, done, *step, now),
        (
            State::Running {
                step,
                attempt,
                deadline,
            },
            Input::StepNotYet {
                step: s,
                attempt: a,
            },
        ) if (s, a) == (step, attempt) => {
            not_yet(definition, saga, *step, *attempt, *deadline, now)
        }
        (
            State::Running {
                step,
                attempt,
                deadline,
            },
            Input::Timer(Timer::Poll {
                step: s,
                attempt: a,
            }),
        ) if (s, a) == (step, attempt) => poll(definition, saga, *step, *attempt, *deadline, now),
        (State::Running { step, deadline, .. }, Input::Timer(Timer::Deadline { step: s, .. }))
            if s == step && now >= *deadline =>
        {
            compensate(definition, saga, missed_deadline(*step), now)
        }
        (
            State::Running { step, attempt, .. },
            Input::StepFailed {
                step: s,
                attempt: a,
                reason,
            },
        ) if (s, a) == (step, attempt) => {
            compensate(definition, saga, format!("{step:?} failed: {reason}"), now)
        }
        (State::Running { .. } | State::AwaitingApproval { .. }, Input::Abort { reason }) => {
            compensate(definition, saga, format!("aborted: {reason}"), now)
        }
        (
            State::Compensating {
                plan,
                index,
                attempt,
                reason,
                ..
            },
            Input::CompensationDone {
                index: i,
                attempt: a,
            },
        ) if (i, a) == (index, attempt) => {
            compensation_done(definition, saga, plan, *index, reason, now)
        }
        (
            State::Compensating {
                index,
                attempt,
                reason,
                ..
            },
            Input::CompensationFailed {
                index: i,
                attempt: a,
                reason: why,
            },
        ) if (i, a) == (index, attempt) => {
            compensation_failed(definition, saga, *index, *attempt, reason, why, now)
        }
        (
            State::Compensating {
                plan,
                index,
                attempt,
                reason,
                ..
            },
            Input::Timer(Timer::RetryCompensation {
                index: i,
                attempt: a,
            }),
        ) if (i, a) == (index, attempt) => {
            send_compensation(definition, saga, plan, *index, *attempt + 1, reason, now)
        }
        // No answer in time (the service is down, the command or its answer was lost): that
        // attempt failed, and is retried or handed to a person like any other failure.
        (
            State::Compensating {
                index,
                attempt,
                reason,
                deadline,
                ..
            },
            Input::Timer(Timer::CompensationDeadline {
                index: i,
                attempt: a,
            }),
        ) if (i, a) == (index, attempt) && deadline.is_none_or(|at| now >= at) => {
            compensation_failed(
                definition,
                saga,
                *index,
                *attempt,
                reason,
                "no answer before the compensation's deadline",
                now,
            )
        }
        (
            State::NeedsAttention {
                plan,
                index,
                attempt,
                reason,
            },
            Input::Retry,
        ) => send_compensation(definition, saga, plan, *index, *attempt + 1, reason, now),
        (State::NeedsAttention { reason, .. }, Input::Resolve { note }) => {
            let next = State::Resolved {
                reason: reason.clone(),
                note: note.clone(),
            };
            Decision::new(moved(saga, next), Vec::new(), Vec::new())
        }
        _ => Decision::new(saga.clone(), Vec::new(), Vec::new()),
    }
}

impl Decision {
    fn new(next: Saga, commands: Vec<Command>, timers: Vec<ScheduledTimer>) -> Self {
        Self {
            next,
            commands,
            timers,
        }
    }
}

/// The same saga in another state.
fn moved(saga: &Saga, state: State) -> Saga {
    Saga {
        state,
        completed: saga.completed.clone(),
    }
}

fn start(
    definition: &Definition,
    saga: &Saga,
    approval: Option<&PlanHash>,
    now: OffsetDateTime,
) -> Decision {
    match (definition.steps.first(), approval) {
        (None, _) => Decision::new(moved(saga, State::Completed), Vec::new(), Vec::new()),
        // Held before anything runs: no write can precede the approval.
        (Some(first), Some(plan_hash)) => {
            let held = State::AwaitingApproval {
                step: first.step,
                plan_hash: plan_hash.clone(),
            };
            Decision::new(moved(saga, held), Vec::new(), Vec::new())
        }
        (Some(first), None) => run(definition, saga.completed.clone(), first.step, now),
    }
}

/// Asks for `step`'s first attempt and sets its deadline.
fn run(definition: &Definition, completed: Vec<Step>, step: Step, now: OffsetDateTime) -> Decision {
    let limit = definition
        .get(step)
        .map_or(definition.timing.action_deadline, |d| d.deadline);
    let deadline = now + limit;
    Decision::new(
        Saga {
            state: State::Running {
                step,
                attempt: 1,
                deadline,
            },
            completed,
        },
        vec![Command::Execute { step, attempt: 1 }],
        vec![ScheduledTimer {
            at: deadline,
            timer: Timer::Deadline { step, attempt: 1 },
        }],
    )
}

fn step_done(definition: &Definition, done: &[Step], step: Step, now: OffsetDateTime) -> Decision {
    let mut completed = done.to_vec();
    completed.push(step);
    match definition.after(step) {
        Some(next) => run(definition, completed, next.step, now),
        None => Decision::new(
            Saga {
                state: State::Completed,
                completed,
            },
            Vec::new(),
            Vec::new(),
        ),
    }
}

/// A wait's condition does not hold yet: look again after the poll interval (or at the
/// deadline, whichever comes first). An action never answers "not yet".
fn not_yet(
    definition: &Definition,
    saga: &Saga,
    step: Step,
    attempt: u32,
    deadline: OffsetDateTime,
    now: OffsetDateTime,
) -> Decision {
    let Some(StepKind::Wait { poll_every }) = definition.get(step).map(|d| d.kind) else {
        return Decision::new(saga.clone(), Vec::new(), Vec::new());
    };
    let at = (now + poll_every).min(deadline);
    Decision::new(
        saga.clone(),
        Vec::new(),
        vec![ScheduledTimer {
            at,
            timer: Timer::Poll { step, attempt },
        }],
    )
}

/// Time to check the wait again, with a new attempt so a late answer to the old one is stale.
fn poll(
    definition: &Definition,
    saga: &Saga,
    step: Step,
    attempt: u32,
    deadline: OffsetDateTime,
    now: OffsetDateTime,
) -> Decision {
    if now >= deadline {
        return compensate(definition, saga, missed_deadline(step), now);
    }
    let next = moved(
        saga,
        State::Running {
            step,
            attempt: attempt + 1,
            deadline,
        },
    );
    Decision::new(
        next,
        vec![Command::Execute {
            step,
            attempt: attempt + 1,
        }],
        Vec::new(),
    )
}

/// Asks for `plan[index]` (attempt `attempt`) with a deadline for its answer.
fn send_compensation(
    definition: &Definition,
    saga: &Saga,
    plan: &[Compensation],
    index: usize,
    attempt: u32,
    reason: &str,
    now: OffsetDateTime,
) -> Decision {
    let at = now + definition.timing.action_deadline;
    let next = State::Compensating {
        plan: plan.to_vec(),
        index,
        attempt,
        reason: reason.to_owned(),
        deadline: Some(at),
    };
    let command = Command::Compensate {
        compensation: plan[index],
        index,
        attempt,
    };
    let deadline = ScheduledTimer {
        at,
        timer: Timer::CompensationDeadline { index, attempt },
    };
    Decision::new(moved(saga, next), vec![command], vec![deadline])
}

fn compensation_done(
    definition: &Definition,
    saga: &Saga,
    plan: &[Compensation],
    index: usize,
    reason: &str,
    now: OffsetDateTime,
) -> Decision {
    let next_index = index + 1;
    match plan.get(next_index) {
        Some(_) => send_compensation(definition, saga, plan, next_index, 1, reason, now),
        None => Decision::new(
            moved(
                saga,
                State::Compensated {
                    reason: reason.to_owned(),
                },
            ),
            Vec::new(),
            Vec::new(),
        ),
    }
}

/// Tries again after a growing pause (the backoff, doubled per failure); past the attempts
/// allowed, a person must look.
fn compensation_failed(
    definition: &Definition,
    saga: &Saga,
    index: usize,
    attempt: u32,
    reason: &str,
    why: &str,
    now: OffsetDateTime,
) -> Decision {
    if attempt >= definition.timing.compensation_attempts {
        let State::Compensating { plan, .. } = &saga.state else {
            return Decision::new(saga.clone(), Vec::new(), Vec::new());
        };
        let stuck = State::NeedsAttention {
            plan: plan.clone(),
            index,
            attempt,
            reason: format!("{reason}; then undoing it failed {attempt} times: {why}"),
        };
        return Decision::new(moved(saga, stuck), Vec::new(), Vec::new());
    }
    let pause = definition.timing.compensation_backoff * 2u32.saturating_pow(attempt - 1);
    let timer = ScheduledTimer {
        at: now + pause,
        timer: Timer::RetryCompensation { index, attempt },
    };
    Decision::new(saga.clone(), Vec::new(), vec![timer])
}

/// Why a step that ran out of time failed, whichever timer noticed first.
fn missed_deadline(step: Step) -> String {
    format!("{step:?} did not finish before its deadline")
}

/// Starts undoing what was done; with nothing to undo, the saga ends compensated at once.
fn compensate(
    definition: &Definition,
    saga: &Saga,
    reason: String,
    now: OffsetDateTime,
) -> Decision {
    let plan = definition.compensations_for(&saga.completed);
    match plan.first() {
        Some(_) => send_compensation(definition, saga, &plan, 0, 1, &reason, now),
        None => Decision::new(
            moved(saga, State::Compensated { reason }),
            Vec::new(),
            Vec::new(),
        ),
    }
}
