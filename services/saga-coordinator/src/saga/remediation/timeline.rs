//! The audit trail's wording: what the saga made of an input, and where that left it.

use crate::saga::state::{Input, State};

/// "<what came in>: now <where the saga is>".
pub(super) fn describe(input: &Input, state: &State) -> String {
    let now = match state {
        State::New { .. } => "not started".to_owned(),
        State::AwaitingApproval { plan_hash, .. } => {
            format!("awaiting approval of plan {plan_hash}")
        }
        State::Running { step, attempt, .. } => format!("running {step:?} (attempt {attempt})"),
        State::Compensating {
            plan,
            index,
            attempt,
            ..
        } => format!("undoing: {:?} (attempt {attempt})", plan[*index]),
        State::Completed => "completed".to_owned(),
        State::Compensated { reason } => format!("compensated: {reason}"),
        State::NeedsAttention { reason, .. } => format!("needs attention: {reason}"),
        State::Resolved { note, .. } => format!("resolved by an operator: {note}"),
    };
    format!("{}: now {now}", input_label(input))
}

fn input_label(input: &Input) -> String {
    match input {
        Input::Start => "start".into(),
        Input::StepDone { step, attempt } => format!("{step:?} done (attempt {attempt})"),
        Input::StepNotYet { step, attempt } => format!("{step:?} not yet (attempt {attempt})"),
        Input::StepFailed {
            step,
            attempt,
            reason,
        } => format!("{step:?} failed (attempt {attempt}): {reason}"),
        Input::CompensationDone { index, attempt } => {
            format!("compensation {index} done (attempt {attempt})")
        }
        Input::CompensationFailed {
            index,
            attempt,
            reason,
        } => format!("compensation {index} failed (attempt {attempt}): {reason}"),
        Input::Timer(timer) => format!("timer {timer:?}"),
        Input::Approve { plan_hash } => format!("approval of plan {plan_hash}"),
        Input::Abort { reason } => format!("abort ({reason})"),
        Input::Retry => "retry".into(),
        Input::Resolve { note } => format!("resolved ({note})"),
    }
}
