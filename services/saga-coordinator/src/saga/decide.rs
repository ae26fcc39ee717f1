//! The saga's transitions as one pure function: no I/O, no clock (time comes in), no logging.
//! An input that does not match where the saga is (a duplicate, a stale attempt, a step it is
//! not at, anything after the end) changes nothing and asks for nothing.

use time::OffsetDateTime;

use super::{
    definition::{Definition, Step, StepKind},
    state::{Command, Decision, Input, Saga, ScheduledTimer, State, Timer},
};

pub fn decide(
    definition: &Definition,
    saga: &Saga,
    input: &Input,
    now: OffsetDateTime,
) -> Decision {
    let unchanged = || Decision {
        next: saga.clone(),
        commands: Vec::new(),
        timers: Vec::new(),
    };
    match (&saga.state, input) {
        (State::New { approval }, Input::Start) => match (definition.steps.first(), approval) {
            (None, _) => finished(saga),
            // Held before anything runs: no write can precede the approval.
            (Some(first), Some(plan_hash)) => Decision {
                next: Saga {
                    state: State::AwaitingApproval {
                        step: first.step,
                        plan_hash: plan_hash.clone(),
                    },
                    completed: saga.completed.clone(),
                },
                commands: Vec::new(),
                timers: Vec::new(),
            },
            (Some(first), None) => run(definition, saga.completed.clone(), first.step, 1, now),
        },
        // Only an approval of this very plan lets it go; one for another plan changes nothing.
        (State::AwaitingApproval { step, plan_hash }, Input::Approve { plan_hash: given })
            if given == plan_hash =>
        {
            run(definition, saga.completed.clone(), *step, 1, now)
        }
        (State::AwaitingApproval { .. }, Input::Abort { reason }) => {
            compensate(definition, saga, format!("aborted: {reason}"))
        }
        (
            State::Running { step, attempt, .. },
            Input::StepDone {
                step: s,
                attempt: a,
            },
        ) if s == step && a == attempt => {
            let mut completed = saga.completed.clone();
            completed.push(*step);
            match definition.after(*step) {
                Some(next) => run(definition, completed, next.step, 1, now),
                None => Decision {
                    next: Saga {
                        state: State::Completed,
                        completed,
                    },
                    commands: Vec::new(),
                    timers: Vec::new(),
                },
            }
        }
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
        ) if s == step && a == attempt => {
            match definition.get(*step).map(|d| d.kind) {
                Some(StepKind::Wait { poll_every }) => {
                    let at = (now + poll_every).min(*deadline);
                    Decision {
                        next: saga.clone(),
                        commands: Vec::new(),
                        timers: vec![ScheduledTimer {
                            at,
                            timer: Timer::Poll {
                                step: *step,
                                attempt: *attempt,
                            },
                        }],
                    }
                }
                // An action answers done or failed; "not yet" from one is not a thing.
                _ => unchanged(),
            }
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
        ) if s == step && a == attempt => {
            if now >= *deadline {
                return compensate(
                    definition,
                    saga,
                    format!("{step:?} did not happen before its deadline"),
                );
            }
            let next = Saga {
                state: State::Running {
                    step: *step,
                    attempt: attempt + 1,
                    deadline: *deadline,
                },
                completed: saga.completed.clone(),
            };
            Decision {
                next,
                commands: vec![Command::Execute {
                    step: *step,
                    attempt: attempt + 1,
                }],
                timers: Vec::new(),
            }
        }
        (State::Running { step, deadline, .. }, Input::Timer(Timer::Deadline { step: s, .. }))
            if s == step && now >= *deadline =>
        {
            compensate(
                definition,
                saga,
                format!("{step:?} did not finish before its deadline"),
            )
        }
        (
            State::Running { step, attempt, .. },
            Input::StepFailed {
                step: s,
                attempt: a,
                reason,
            },
        ) if s == step && a == attempt => {
            compensate(definition, saga, format!("{step:?} failed: {reason}"))
        }
        (State::Running { .. }, Input::Abort { reason }) => {
            compensate(definition, saga, format!("aborted: {reason}"))
        }
        (
            State::Compensating {
                plan,
                index,
                attempt,
                reason,
            },
            Input::CompensationDone {
                index: i,
                attempt: a,
            },
        ) if i == index && a == attempt => {
            let next_index = index + 1;
            match plan.get(next_index) {
                Some(compensation) => Decision {
                    next: Saga {
                        state: State::Compensating {
                            plan: plan.clone(),
                            index: next_index,
                            attempt: 1,
                            reason: reason.clone(),
                        },
                        completed: saga.completed.clone(),
                    },
                    commands: vec![Command::Compensate {
                        compensation: *compensation,
                        index: next_index,
                        attempt: 1,
                    }],
                    timers: Vec::new(),
                },
                None => Decision {
                    next: Saga {
                        state: State::Compensated {
                            reason: reason.clone(),
                        },
                        completed: saga.completed.clone(),
                    },
                    commands: Vec::new(),
                    timers: Vec::new(),
                },
            }
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
        ) if i == index && a == attempt => {
            if *attempt >= definition.timing.compensation_attempts {
                let reason = format!("{reason}; then undoing it failed {attempt} times: {why}");
                return Decision {
                    next: Saga {
                        state: State::NeedsAttention { reason },
                        completed: saga.completed.clone(),
                    },
                    commands: Vec::new(),
                    timers: Vec::new(),
                };
            }
            // Growing pauses: the backoff, doubled per failed attempt.
            let pause = definition.timing.compensation_backoff * 2u32.saturating_pow(attempt - 1);
            let timer = ScheduledTimer {
                at: now + pause,
                timer: Timer::RetryCompensation {
                    index: *index,
                    attempt: *attempt,
                },
            };
            Decision {
                next: saga.clone(),
                commands: Vec::new(),
                timers: vec![timer],
            }
        }
        (
            State::Compensating {
                plan,
                index,
                attempt,
                reason,
            },
            Input::Timer(Timer::RetryCompensation {
                index: i,
                attempt: a,
            }),
        ) if i == index && a == attempt => {
            let next_attempt = attempt + 1;
            Decision {
                next: Saga {
                    state: State::Compensating {
                        plan: plan.clone(),
                        index: *index,
                        attempt: next_attempt,
                        reason: reason.clone(),
                    },
                    completed: saga.completed.clone(),
                },
                commands: vec![Command::Compensate {
                    compensation: plan[*index],
                    index: *index,
                    attempt: next_attempt,
                }],
                timers: Vec::new(),
            }
        }
        _ => unchanged(),
    }
}

/// Asks for `step` (attempt `attempt`) and sets its deadline.
fn run(
    definition: &Definition,
    completed: Vec<Step>,
    step: Step,
    attempt: u32,
    now: OffsetDateTime,
) -> Decision {
    let limit = definition
        .get(step)
        .map_or(definition.timing.action_deadline, |d| d.deadline);
    let deadline = now + limit;
    Decision {
        next: Saga {
            state: State::Running {
                step,
                attempt,
                deadline,
            },
            completed,
        },
        commands: vec![Command::Execute { step, attempt }],
        timers: vec![ScheduledTimer {
            at: deadline,
            timer: Timer::Deadline { step, attempt },
        }],
    }
}

fn finished(saga: &Saga) -> Decision {
    Decision {
        next: Saga {
            state: State::Completed,
            completed: saga.completed.clone(),
        },
        commands: Vec::new(),
        timers: Vec::new(),
    }
}

/// Starts undoing what was done; with nothing to undo, the saga ends compensated at once.
fn compensate(definition: &Definition, saga: &Saga, reason: String) -> Decision {
    let plan = definition.compensations_for(&saga.completed);
    match plan.first() {
        Some(first) => Decision {
            next: Saga {
                state: State::Compensating {
                    plan: plan.clone(),
                    index: 0,
                    attempt: 1,
                    reason,
                },
                completed: saga.completed.clone(),
            },
            commands: vec![Command::Compensate {
                compensation: *first,
                index: 0,
                attempt: 1,
            }],
            timers: Vec::new(),
        },
        None => Decision {
            next: Saga {
                state: State::Compensated { reason },
                completed: saga.completed.clone(),
            },
            commands: Vec::new(),
            timers: Vec::new(),
        },
    }
}
