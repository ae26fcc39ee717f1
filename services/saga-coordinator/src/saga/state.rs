//! A saga as plain data: where it is (a state whose variants carry their own data), what it has
//! done, and what it takes in and gives out.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    definition::{Compensation, Step},
    plan_hash::PlanHash,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum State {
    /// Not started; with `approval`, it will wait, before changing anything, for an approval
    /// naming that plan hash.
    New {
        approval: Option<PlanHash>,
    },
    /// Held before `step`, its first, until an approval names this plan.
    AwaitingApproval {
        step: Step,
        plan_hash: PlanHash,
    },
    /// `step` has been asked for (attempt `attempt`); it must end by `deadline`.
    Running {
        step: Step,
        attempt: u32,
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    /// Undoing, in order: `plan[index]` has been asked for (attempt `attempt`).
    Compensating {
        plan: Vec<Compensation>,
        index: usize,
        attempt: u32,
        reason: String,
        /// When this attempt's answer must have come. A deadline timer that fires before it
        /// belongs to an earlier saga of the same remediation (a rung since undone) and is
        /// ignored. Absent in records stored before it was kept.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        deadline: Option<OffsetDateTime>,
    },
    Completed,
    /// Failed and put back as it was (or nothing needed undoing).
    Compensated {
        reason: String,
    },
    /// A compensation kept failing: a person must look, then retry it (from `plan[index]`,
    /// after attempt `attempt`) or say it is resolved.
    NeedsAttention {
        plan: Vec<Compensation>,
        index: usize,
        attempt: u32,
        reason: String,
    },
    /// An operator put things right by hand after `NeedsAttention`.
    Resolved {
        reason: String,
        note: String,
    },
}

impl State {
    /// Ended for good: nothing changes it any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            State::Completed | State::Compensated { .. } | State::Resolved { .. }
        )
    }

    /// Ended, or waiting for a person and nothing else (`NeedsAttention`).
    pub fn is_settled(&self) -> bool {
        self.is_terminal() || matches!(self, State::NeedsAttention { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saga {
    pub state: State,
    /// Steps done, in the order done.
    pub completed: Vec<Step>,
}

impl Saga {
    pub fn new() -> Self {
        Self {
            state: State::New { approval: None },
            completed: Vec::new(),
        }
    }

    /// A saga that must be approved, for the plan with this hash, before it changes anything.
    pub fn gated(plan_hash: PlanHash) -> Self {
        Self {
            state: State::New {
                approval: Some(plan_hash),
            },
            completed: Vec::new(),
        }
    }
}

impl Default for Saga {
    fn default() -> Self {
        Self::new()
    }
}

/// What can happen to a saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "kebab-case")]
pub enum Input {
    Start,
    /// The step's command succeeded, or a wait's condition now holds.
    StepDone {
        step: Step,
        attempt: u32,
    },
    /// A wait's check ran and its condition does not hold yet.
    StepNotYet {
        step: Step,
        attempt: u32,
    },
    /// The step failed for good (the service refused, or the bus gave up).
    StepFailed {
        step: Step,
        attempt: u32,
        reason: String,
    },
    CompensationDone {
        index: usize,
        attempt: u32,
    },
    CompensationFailed {
        index: usize,
        attempt: u32,
        reason: String,
    },
    Timer(Timer),
    /// An operator approves the plan with this hash.
    Approve {
        plan_hash: PlanHash,
    },
    /// An operator stops the saga: what was done is undone.
    Abort {
        reason: String,
    },
    /// An operator asks a `NeedsAttention` saga to try its failed compensation again.
    Retry,
    /// An operator says a `NeedsAttention` saga was put right by hand.
    Resolve {
        note: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "timer", rename_all = "kebab-case")]
pub enum Timer {
    /// Check a wait's condition again.
    Poll { step: Step, attempt: u32 },
    /// The step's time is up.
    Deadline { step: Step, attempt: u32 },
    /// Try a failed compensation again.
    RetryCompensation { index: usize, attempt: u32 },
    /// A compensation's answer must have come by now; if not, that attempt has failed.
    CompensationDeadline { index: usize, attempt: u32 },
    /// The diagnosis's reads must all be answered by now.
    DiagnosisDeadline,
}

/// A command for the shell to send: it maps each to a bus message using the saga's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    Execute {
        step: Step,
        attempt: u32,
    },
    Compensate {
        compensation: Compensation,
        index: usize,
        attempt: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTimer {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub timer: Timer,
}

/// What `decide` returns: the next saga, and the effects to carry out, as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub next: Saga,
    pub commands: Vec<Command>,
    pub timers: Vec<ScheduledTimer>,
}
