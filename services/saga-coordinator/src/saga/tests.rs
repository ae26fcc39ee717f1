//! `decide` driven by tables and by seeded random schedules: every step and outcome, failure at
//! each step, deadlines, failing compensations, and invariants under duplicate, stale and
//! out-of-order inputs.

use std::{collections::HashSet, time::Duration};

use time::OffsetDateTime;

use super::*;

fn timing() -> Timing {
    Timing {
        action_deadline: Duration::from_secs(60),
        poll_every: Duration::from_secs(5),
        wait_deadline: Duration::from_secs(120),
        compensation_attempts: 3,
        compensation_backoff: Duration::from_secs(2),
    }
}

fn definition() -> Definition {
    Definition::round_trip(timing())
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

/// Applies `input` and checks the decision's own invariants.
fn step(saga: &Saga, input: Input, now: OffsetDateTime) -> Decision {
    let decision = decide(&definition(), saga, &input, now);
    if saga.state.is_terminal() {
        assert_eq!(decision.next, *saga, "a terminal saga never changes");
        assert!(decision.commands.is_empty() && decision.timers.is_empty());
    }
    if matches!(saga.state, State::NeedsAttention { .. })
        && !matches!(input, Input::Retry | Input::Resolve { .. })
    {
        assert_eq!(decision.next, *saga, "only a person moves a stuck saga");
    }
    let order: Vec<Step> = definition().steps.iter().map(|d| d.step).collect();
    assert_eq!(
        decision.next.completed.as_slice(),
        &order[..decision.next.completed.len()],
        "steps complete in order"
    );
    decision
}

/// Drives a saga answering every command with success (waits: "not yet" once, then done).
fn run_to(failing_at: Option<Step>) -> (Saga, Vec<Command>) {
    let mut saga = Saga::new();
    let mut now = t0();
    let mut issued = Vec::new();
    let mut decision = step(&saga, Input::Start, now);
    loop {
        saga = decision.next.clone();
        issued.extend(decision.commands.clone());
        let Some(command) = decision.commands.first().cloned() else {
            // Only a poll timer can be pending without a command.
            match decision.timers.first() {
                Some(timer) if matches!(timer.timer, Timer::Poll { .. }) => {
                    now = timer.at;
                    decision = step(&saga, Input::Timer(timer.timer.clone()), now);
                    continue;
                }
                _ => return (saga, issued),
            }
        };
        now += time::Duration::seconds(1);
        let input = match command {
            Command::Execute { step: s, attempt } if Some(s) == failing_at => Input::StepFailed {
                step: s,
                attempt,
                reason: "boom".into(),
            },
            Command::Execute { step: s, attempt } => match definition().get(s).map(|d| d.kind) {
                Some(StepKind::Wait { .. }) if attempt == 1 => {
                    Input::StepNotYet { step: s, attempt }
                }
                _ => Input::StepDone { step: s, attempt },
            },
            Command::Compensate { index, attempt, .. } => {
                Input::CompensationDone { index, attempt }
            }
        };
        decision = step(&saga, input, now);
    }
}

fn compensations(issued: &[Command]) -> Vec<Compensation> {
    issued
        .iter()
        .filter_map(|c| match c {
            Command::Compensate { compensation, .. } => Some(*compensation),
            _ => None,
        })
        .collect()
}

#[test]
fn the_happy_path_runs_every_step_once_in_order() {
    let (saga, issued) = run_to(None);
    assert_eq!(saga.state, State::Completed);
    assert_eq!(saga.completed.len(), 13);
    let executed: Vec<(Step, u32)> = issued
        .iter()
        .filter_map(|c| match c {
            Command::Execute { step, attempt } => Some((*step, *attempt)),
            _ => None,
        })
        .collect();
    let unique: HashSet<_> = executed.iter().collect();
    assert_eq!(unique.len(), executed.len(), "no effect asked for twice");
    // Each wait (the three, and the final check) polled once more after its first "not yet".
    assert_eq!(executed.len(), 13 + 4);
    assert!(compensations(&issued).is_empty());
}

#[test]
fn failure_at_each_step_undoes_exactly_what_was_done_in_reverse() {
    use Compensation::*;
    let expected: [(Step, &[Compensation]); 5] = [
        (Step::Snapshot, &[]),
        (Step::Descope, &[]),
        (
            Step::SyncOut,
            &[
                MoveBack,
                HoldTakeoverLease,
                SyncBack,
                VerifyRestored,
                ReleaseTakeoverLease,
            ],
        ),
        (
            Step::AwaitMailbox,
            &[
                RemoveTemporaryLicense,
                MoveBack,
                HoldTakeoverLease,
                SyncBack,
                VerifyRestored,
                ReleaseTakeoverLease,
            ],
        ),
        // The temporary licence is already gone: nothing to remove.
        (
            Step::Verify,
            &[
                MoveBack,
                HoldTakeoverLease,
                SyncBack,
                VerifyRestored,
                ReleaseTakeoverLease,
            ],
        ),
    ];
    for (failing, want) in expected {
        let (saga, issued) = run_to(Some(failing));
        assert_eq!(compensations(&issued), want, "failure at {failing:?}");
        assert!(
            matches!(saga.state, State::Compensated { ref reason } if reason.contains("boom")),
            "{:?}",
            saga.state
        );
    }
    // And for every step, generally: the completed steps' compensations, latest first.
    for def in definition().steps {
        let (saga, issued) = run_to(Some(def.step));
        let settled: Vec<Compensation> = saga
            .completed
            .iter()
            .filter_map(|s| definition().get(*s).unwrap().settles)
            .collect();
        let mut want: Vec<Compensation> = saga
            .completed
            .iter()
            .rev()
            .filter_map(|s| definition().get(*s).unwrap().compensation)
            .filter(|c| !settled.contains(c))
            .collect();
        if want.contains(&MoveBack) {
            want.extend([
                HoldTakeoverLease,
                SyncBack,
                VerifyRestored,
                ReleaseTakeoverLease,
            ]);
        }
        assert_eq!(compensations(&issued), want, "failure at {:?}", def.step);
        assert!(!saga.completed.contains(&def.step));
    }
}

#[test]
fn a_wait_that_never_comes_true_fails_at_its_deadline() {
    let mut saga = Saga::new();
    let mut now = t0();
    let mut decision = step(&saga, Input::Start, now);
    // Answer everything done until the first wait, then "not yet" forever.
    loop {
        saga = decision.next.clone();
        if let State::Running {
            step: s, attempt, ..
        } = &saga.state
            && *s == Step::AwaitSoftDelete
        {
            let not_yet = step(
                &saga,
                Input::StepNotYet {
                    step: *s,
                    attempt: *attempt,
                },
                now,
            );
            saga = not_yet.next.clone();
            let Some(poll) = not_yet.timers.first().cloned() else {
                break;
            };
            now = poll.at;
            decision = step(&saga, Input::Timer(poll.timer), now);
            if matches!(decision.next.state, State::Compensating { .. }) {
                saga = decision.next.clone();
                break;
            }
            continue;
        }
        let Some(Command::Execute { step: s, attempt }) = decision.commands.first().cloned() else {
            panic!("{:?}", saga.state)
        };
        decision = step(&saga, Input::StepDone { step: s, attempt }, now);
    }
    assert!(
        now - t0() >= time::Duration::seconds(120) - time::Duration::seconds(5),
        "polled until the deadline"
    );
    let State::Compensating { plan, reason, .. } = &saga.state else {
        panic!("{:?}", saga.state)
    };
    assert!(reason.contains("deadline"), "{reason}");
    assert_eq!(plan[0], Compensation::MoveBack);
}

#[test]
fn a_failing_compensation_is_retried_with_growing_pauses_then_needs_attention() {
    let (mut saga, _) = (Saga::new(), ());
    let now = t0();
    saga = step(&saga, Input::Start, now).next;
    saga = step(
        &saga,
        Input::StepDone {
            step: Step::Snapshot,
            attempt: 1,
        },
        now,
    )
    .next;
    saga = step(
        &saga,
        Input::StepDone {
            step: Step::Descope,
            attempt: 1,
        },
        now,
    )
    .next;
    saga = step(
        &saga,
        Input::StepFailed {
            step: Step::SyncOut,
            attempt: 1,
            reason: "Connect refused".into(),
        },
        now,
    )
    .next;
    let mut pauses = Vec::new();
    for attempt in 1..=3 {
        let failed = step(
            &saga,
            Input::CompensationFailed {
                index: 0,
                attempt,
                reason: "DC down".into(),
            },
            now,
        );
        saga = failed.next;
        if attempt == 3 {
            assert!(failed.timers.is_empty());
            break;
        }
        let retry = failed.timers[0].clone();
        pauses.push(retry.at - now);
        let resent = step(&saga, Input::Timer(retry.timer), retry.at);
        assert_eq!(
            resent.commands,
            vec![Command::Compensate {
                compensation: Compensation::MoveBack,
                index: 0,
                attempt: attempt + 1
            }]
        );
        saga = resent.next;
    }
    assert!(
        pauses.windows(2).all(|w| w[0] < w[1]),
        "growing pauses: {pauses:?}"
    );
    let State::NeedsAttention { reason, .. } = &saga.state else {
        panic!("{:?}", saga.state)
    };
    assert!(
        reason.contains("Connect refused") && reason.contains("DC down"),
        "{reason}"
    );

    // An operator retries: the same compensation, a fresh attempt; then it goes through.
    let retried = step(&saga, Input::Retry, now);
    assert_eq!(
        retried.commands,
        vec![Command::Compensate {
            compensation: Compensation::MoveBack,
            index: 0,
            attempt: 4
        }]
    );
    let stuck = saga.clone();
    saga = retried.next;
    // Moving back, the lease, the sync, the check, the lease let go.
    for _ in 0..5 {
        let State::Compensating { index, attempt, .. } = saga.state else {
            panic!("{:?}", saga.state)
        };
        saga = step(&saga, Input::CompensationDone { index, attempt }, now).next;
    }
    assert!(
        matches!(saga.state, State::Compensated { .. }),
        "{:?}",
        saga.state
    );

    // Or says it was mended by hand: the saga ends, and nothing is sent.
    let resolved = step(
        &stuck,
        Input::Resolve {
            note: "moved back by hand".into(),
        },
        now,
    );
    assert!(resolved.commands.is_empty());
    assert!(matches!(resolved.next.state, State::Resolved { .. }));
    assert_eq!(step(&resolved.next, Input::Retry, now).next, resolved.next);
}

#[test]
fn a_compensation_never_answered_fails_at_its_deadline_and_ends_in_needs_attention() {
    let mut now = t0();
    let mut saga = step(&Saga::new(), Input::Start, now).next;
    for done in [Step::Snapshot, Step::Descope] {
        let input = Input::StepDone {
            step: done,
            attempt: 1,
        };
        saga = step(&saga, input, now).next;
    }
    let failed = Input::StepFailed {
        step: Step::SyncOut,
        attempt: 1,
        reason: "Connect refused".into(),
    };
    let mut decision = step(&saga, failed, now);
    // Every attempt is sent with a deadline for its answer; none ever comes.
    for attempt in 1..=3 {
        assert_eq!(
            decision.commands,
            vec![Command::Compensate {
                compensation: Compensation::MoveBack,
                index: 0,
                attempt
            }]
        );
        let deadline = decision
            .timers
            .iter()
            .find(|t| matches!(t.timer, Timer::CompensationDeadline { .. }))
            .cloned()
            .expect("a deadline for the answer");
        assert_eq!(
            deadline.timer,
            Timer::CompensationDeadline { index: 0, attempt }
        );
        assert_eq!(deadline.at, now + timing().action_deadline);
        saga = decision.next;
        // A deadline for an earlier attempt changes nothing.
        if attempt > 1 {
            let stale = Timer::CompensationDeadline {
                index: 0,
                attempt: attempt - 1,
            };
            assert_eq!(step(&saga, Input::Timer(stale), deadline.at).next, saga);
        }
        // Nor does this attempt's own timer before its time: one left behind by an earlier
        // saga of the remediation (a rung undone and fallen back from) with the same index.
        let early = step(&saga, Input::Timer(deadline.timer.clone()), now);
        assert_eq!(early.next, saga, "attempt {attempt}: fired early");
        now = deadline.at;
        let missed = step(&saga, Input::Timer(deadline.timer), now);
        saga = missed.next;
        if attempt == 3 {
            break;
        }
        let retry = missed.timers[0].clone();
        now = retry.at;
        decision = step(&saga, Input::Timer(retry.timer), now);
    }
    let State::NeedsAttention { reason, .. } = &saga.state else {
        panic!("{:?}", saga.state)
    };
    assert!(reason.contains("no answer before"), "{reason}");
}

#[test]
fn abort_undoes_a_running_saga_and_is_ignored_after_the_end() {
    let now = t0();
    let mut saga = step(&Saga::new(), Input::Start, now).next;
    for s in [Step::Snapshot, Step::Descope] {
        saga = step(
            &saga,
            Input::StepDone {
                step: s,
                attempt: 1,
            },
            now,
        )
        .next;
    }
    let aborted = step(
        &saga,
        Input::Abort {
            reason: "operator".into(),
        },
        now,
    );
    assert_eq!(
        aborted.commands,
        vec![Command::Compensate {
            compensation: Compensation::MoveBack,
            index: 0,
            attempt: 1
        }]
    );
    let (done, _) = run_to(None);
    assert_eq!(
        step(
            &done,
            Input::Abort {
                reason: "late".into()
            },
            now
        )
        .next,
        done
    );
}

mod gates_and_strategies;
mod random;
