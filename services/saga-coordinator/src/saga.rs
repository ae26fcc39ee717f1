//! The remediation saga's core: who may start (`admission`), what to do (`diagnosis`), the
//! strategy as data (`definition`), the saga and what flows in and out of it (`state`), the
//! transitions as one pure function (`decide`), what a ticket is told (`progress`), what the
//! step services are asked and what their answers mean (`messages`), a remediation's whole
//! life around the saga, from its first read to its end (`remediation`), and what it last saw of
//! its user (`seen`).

pub mod admission;
pub mod decide;
pub mod definition;
pub mod diagnosis;
pub mod ladder;
pub mod messages;
pub mod plan_hash;
pub mod progress;
pub mod remediation;
pub mod seen;
pub mod state;
pub mod takeover;
#[cfg(test)]
mod tests;

pub use admission::{Budgets, admission_due};
pub use decide::decide;
pub use definition::{Compensation, Definition, Step, StepDef, StepKind, Timing};
pub use diagnosis::{Diagnosis, Facts, Missing, Plan, Refusal, Skipped, Strategy, diagnose};
pub use plan_hash::PlanHash;
pub use remediation::{
    Advance, Event, Phase, Policy, Purpose, Read, Reads, advance, begin, command_expiry, requested,
};
pub use state::{Command, Decision, Input, Saga, ScheduledTimer, State, Timer};
