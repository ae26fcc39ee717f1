//! The remediation saga's core: what to do (`diagnosis`), the strategy as data (`definition`),
//! the saga and what flows in and out of it (`state`), and the transitions as one pure function
//! (`decide`).

pub mod decide;
pub mod definition;
pub mod diagnosis;
pub mod state;
#[cfg(test)]
mod tests;

pub use decide::decide;
pub use definition::{Compensation, Definition, Step, StepDef, StepKind, Timing};
pub use diagnosis::{Diagnosis, Facts, Plan, Refusal, Strategy, diagnose};
pub use state::{Command, Decision, Input, Saga, ScheduledTimer, State, Timer};
