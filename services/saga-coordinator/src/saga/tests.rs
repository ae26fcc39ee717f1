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
        (Step::SyncOut, &[MoveBack, SyncBack, VerifyRestored]),
        (
            Step::AwaitMailbox,
            &[RemoveTemporaryLicense, MoveBack, SyncBack, VerifyRestored],
        ),
        // The temporary licence is already gone: nothing to remove.
        (Step::Verify, &[MoveBack, SyncBack, VerifyRestored]),
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
            want.extend([SyncBack, VerifyRestored]);
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
    for _ in 0..3 {
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

/// A small seeded generator (xorshift), so failures reproduce from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Inputs that could plausibly arrive at any time: right, stale, duplicate or unrelated.
fn random_input(rng: &mut Rng, saga: &Saga) -> Input {
    let steps: Vec<Step> = definition().steps.iter().map(|d| d.step).collect();
    let any_step = steps[rng.below(steps.len() as u64) as usize];
    let (step, attempt) = match &saga.state {
        State::Running { step, attempt, .. } if rng.below(3) > 0 => (*step, *attempt),
        _ => (any_step, 1 + rng.below(3) as u32),
    };
    let (index, comp_attempt) = match &saga.state {
        State::Compensating { index, attempt, .. } if rng.below(3) > 0 => (*index, *attempt),
        _ => (rng.below(4) as usize, 1 + rng.below(3) as u32),
    };
    match rng.below(13) {
        0 => Input::Start,
        11 => Input::Retry,
        12 => Input::Resolve {
            note: "random".into(),
        },
        10 => Input::Approve {
            plan_hash: if rng.below(2) == 0 {
                "plan".into()
            } else {
                "other".into()
            },
        },
        1 | 2 => Input::StepDone { step, attempt },
        3 => Input::StepNotYet { step, attempt },
        4 => Input::StepFailed {
            step,
            attempt,
            reason: "random".into(),
        },
        5 => Input::CompensationDone {
            index,
            attempt: comp_attempt,
        },
        6 => Input::CompensationFailed {
            index,
            attempt: comp_attempt,
            reason: "random".into(),
        },
        7 => Input::Timer(Timer::Poll { step, attempt }),
        8 => Input::Timer(Timer::Deadline { step, attempt }),
        _ => Input::Timer(Timer::RetryCompensation {
            index,
            attempt: comp_attempt,
        }),
    }
}

#[test]
fn random_duplicate_stale_and_out_of_order_inputs_never_break_an_invariant() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut saga = if seed % 2 == 0 {
            Saga::gated("plan")
        } else {
            Saga::new()
        };
        let mut now = t0();
        let mut executed = HashSet::new();
        let mut compensated = HashSet::new();
        for _ in 0..400 {
            now += time::Duration::seconds(rng.below(30) as i64);
            let input = random_input(&mut rng, &saga);
            let before = saga.clone();
            let decision = step(&saga, input.clone(), now);
            if decision.next == before {
                assert!(
                    decision.commands.is_empty(),
                    "seed {seed}: {input:?} asked for effects without changing the saga"
                );
            }
            for command in &decision.commands {
                let fresh = match command {
                    Command::Execute { step, attempt } => executed.insert((*step, *attempt)),
                    Command::Compensate { index, attempt, .. } => {
                        compensated.insert((*index, *attempt))
                    }
                };
                assert!(fresh, "seed {seed}: {command:?} asked for twice");
            }
            if let State::Compensating { plan, .. } = &decision.next.state {
                assert_eq!(
                    *plan,
                    definition().compensations_for(&decision.next.completed),
                    "seed {seed}"
                );
            }
            // Nothing runs before the plan it was gated on is approved.
            if matches!(before.state, State::AwaitingApproval { .. })
                && !decision.commands.is_empty()
            {
                assert_eq!(
                    input,
                    Input::Approve {
                        plan_hash: "plan".into()
                    },
                    "seed {seed}: ran without approval"
                );
            }
            // A step counts as done only on the answer to the attempt outstanding.
            if decision.next.completed.len() > before.completed.len() {
                let State::Running {
                    step: current,
                    attempt,
                    ..
                } = &before.state
                else {
                    panic!("seed {seed}")
                };
                assert_eq!(
                    input,
                    Input::StepDone {
                        step: *current,
                        attempt: *attempt
                    },
                    "seed {seed}: done on a stale answer"
                );
            }
            // Likewise a compensation moves on only on the answer to the one outstanding.
            if let State::Compensating { index, attempt, .. } = &before.state {
                let moved_on = match &decision.next.state {
                    State::Compensating { index: next, .. } => next != index,
                    State::Compensated { .. } => true,
                    _ => false,
                };
                if moved_on {
                    assert_eq!(
                        input,
                        Input::CompensationDone {
                            index: *index,
                            attempt: *attempt
                        },
                        "seed {seed}: moved on on a stale answer"
                    );
                }
            }
            saga = decision.next;
        }
    }
}

#[test]
fn a_saga_always_reaches_an_end_when_the_world_answers() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut now = t0();
        let mut decision = step(&Saga::new(), Input::Start, now);
        let mut saga = decision.next.clone();
        let mut timers: Vec<ScheduledTimer> = decision.timers.clone();
        let mut pending: Vec<Command> = decision.commands.clone();
        for _ in 0..2000 {
            if saga.state.is_settled() {
                break;
            }
            // The world answers a command, or time moves to the next timer.
            let input = if let Some(command) = pending.pop() {
                now += time::Duration::seconds(1);
                match command {
                    Command::Execute { step: s, attempt } => match rng.below(20) {
                        0 => Input::StepFailed {
                            step: s,
                            attempt,
                            reason: "random".into(),
                        },
                        1..=6 => Input::StepNotYet { step: s, attempt },
                        _ => Input::StepDone { step: s, attempt },
                    },
                    Command::Compensate { index, attempt, .. } if rng.below(4) == 0 => {
                        Input::CompensationFailed {
                            index,
                            attempt,
                            reason: "random".into(),
                        }
                    }
                    Command::Compensate { index, attempt, .. } => {
                        Input::CompensationDone { index, attempt }
                    }
                }
            } else {
                timers.sort_by_key(|t| t.at);
                let Some(timer) = (!timers.is_empty()).then(|| timers.remove(0)) else {
                    panic!(
                        "seed {seed}: stuck in {:?} with nothing pending",
                        saga.state
                    )
                };
                now = now.max(timer.at);
                Input::Timer(timer.timer)
            };
            decision = step(&saga, input, now);
            saga = decision.next.clone();
            pending.extend(decision.commands.clone());
            timers.extend(decision.timers.clone());
        }
        assert!(
            saga.state.is_settled(),
            "seed {seed}: not finished: {:?}",
            saga.state
        );
    }
}

#[test]
fn a_gated_saga_changes_nothing_until_its_own_plan_is_approved() {
    let now = t0();
    let started = step(&Saga::gated("plan-a"), Input::Start, now);
    assert!(
        started.commands.is_empty() && started.timers.is_empty(),
        "held before anything runs"
    );
    let held = started.next;
    assert!(matches!(
        held.state,
        State::AwaitingApproval {
            step: Step::Snapshot,
            ..
        }
    ));

    let wrong = step(
        &held,
        Input::Approve {
            plan_hash: "plan-b".into(),
        },
        now,
    );
    assert_eq!(
        wrong.next, held,
        "an approval for another plan changes nothing"
    );
    assert!(wrong.commands.is_empty());

    let approved = step(
        &held,
        Input::Approve {
            plan_hash: "plan-a".into(),
        },
        now,
    );
    assert_eq!(
        approved.commands,
        vec![Command::Execute {
            step: Step::Snapshot,
            attempt: 1
        }]
    );

    let aborted = step(
        &held,
        Input::Abort {
            reason: "not today".into(),
        },
        now,
    );
    assert!(
        matches!(aborted.next.state, State::Compensated { .. }),
        "nothing was done, so nothing to undo"
    );
    assert!(aborted.commands.is_empty());
}

#[test]
fn the_cloud_managed_path_has_no_deletion_and_undoes_only_its_flag() {
    let cloud = Definition::cloud_managed(timing());
    let now = t0();
    let mut saga = decide(&cloud, &Saga::new(), &Input::Start, now).next;
    for s in [Step::Snapshot, Step::SetCloudManaged] {
        saga = decide(
            &cloud,
            &saga,
            &Input::StepDone {
                step: s,
                attempt: 1,
            },
            now,
        )
        .next;
    }
    let failed = decide(
        &cloud,
        &saga,
        &Input::StepFailed {
            step: Step::AddAddress,
            attempt: 1,
            reason: "ObjectConflict".into(),
        },
        now,
    );
    assert_eq!(
        failed.commands,
        vec![Command::Compensate {
            compensation: Compensation::UnsetCloudManaged,
            index: 0,
            attempt: 1
        }]
    );
    let done = decide(
        &cloud,
        &failed.next,
        &Input::CompensationDone {
            index: 0,
            attempt: 1,
        },
        now,
    );
    assert!(matches!(done.next.state, State::Compensated { .. }));

    let mut saga = decide(&cloud, &Saga::new(), &Input::Start, now).next;
    for s in [
        Step::Snapshot,
        Step::SetCloudManaged,
        Step::AddAddress,
        Step::Verify,
    ] {
        saga = decide(
            &cloud,
            &saga,
            &Input::StepDone {
                step: s,
                attempt: 1,
            },
            now,
        )
        .next;
    }
    assert_eq!(saga.state, State::Completed);
    assert!(!saga.completed.contains(&Step::Descope));
}
