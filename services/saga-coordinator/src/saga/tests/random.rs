//! Seeded random schedules of right, stale, duplicate and out-of-order inputs: no invariant
//! breaks, and every saga reaches an end when the world answers.

use super::*;

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
                PlanHash::of("plan")
            } else {
                PlanHash::of("other")
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
            Saga::gated(PlanHash::of("plan"))
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
                        plan_hash: PlanHash::of("plan")
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
