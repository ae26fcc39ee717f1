//! What a phase says about a remediation: its status name, whether it is settled or over,
//! whether it holds a descope slot or may hold the takeover lease, its strategy.

use super::Phase;
use crate::saga::{
    definition::{Compensation, Step},
    diagnosis::{Diagnosis, Strategy},
    state::State,
};

impl Phase {
    /// A short name for lists and filters.
    pub fn status(&self) -> &'static str {
        match self {
            Phase::Requested { .. } => "requested",
            Phase::Diagnosing { .. } => "diagnosing",
            Phase::Diagnosed {
                diagnosis: Diagnosis::NothingToDo { .. },
            } => "nothing-to-do",
            Phase::Diagnosed {
                diagnosis: Diagnosis::Refused { .. },
            } => "refused",
            Phase::Diagnosed {
                diagnosis: Diagnosis::Plan(_),
            } => "planned",
            Phase::Undiagnosable { .. } => "undiagnosable",
            Phase::Queued { .. } => "queued",
            Phase::Running { saga, .. } => match saga.state {
                State::New { .. } => "new",
                State::AwaitingApproval { .. } => "awaiting-approval",
                State::Running { .. } => "running",
                State::Compensating { .. } => "compensating",
                State::Completed => "completed",
                State::Compensated { .. } => "compensated",
                State::NeedsAttention { .. } => "needs-attention",
                State::Resolved { .. } => "resolved",
            },
        }
    }

    /// Nothing more will happen without a person (or ever).
    pub fn is_settled(&self) -> bool {
        match self {
            Phase::Requested { .. } | Phase::Diagnosing { .. } | Phase::Queued { .. } => false,
            Phase::Diagnosed { .. } | Phase::Undiagnosable { .. } => true,
            Phase::Running { saga, .. } => saga.state.is_settled(),
        }
    }

    /// Ended for good: the user is free for another remediation.
    pub fn is_over(&self) -> bool {
        match self {
            Phase::Running { saga, .. } => saga.state.is_terminal(),
            other => other.is_settled(),
        }
    }

    /// Whether this remediation holds one of the `max_descoped` slots: a round trip from its
    /// admission until its user is back at its own DN (rescoped, or moved back while undoing).
    /// The slot is freed then, not at the end, so the next batch's descope can ride the same
    /// cycle as this one's return.
    pub fn holds_descope_slot(&self) -> bool {
        let Phase::Running { plan, saga, .. } = self else {
            return false;
        };
        if plan.strategy != Strategy::RoundTrip {
            return false;
        }
        match &saga.state {
            State::New { .. } | State::AwaitingApproval { .. } => true,
            State::Running { .. } => !saga.completed.contains(&Step::Rescope),
            State::Compensating { plan, index, .. } | State::NeedsAttention { plan, index, .. } => {
                plan[(*index).min(plan.len())..].contains(&Compensation::MoveBack)
            }
            State::Completed | State::Compensated { .. } | State::Resolved { .. } => false,
        }
    }

    /// Whether this remediation may hold the takeover lease: a user-cloud-managed saga while
    /// it runs or undoes, a round trip while it undoes (its return is a re-match). Leaving that
    /// (ended, waiting for a person, queued for another rung) lets go of it, so a saga that
    /// stopped can never keep the tenant's block lifted.
    pub fn may_hold_takeover_lease(&self) -> bool {
        let Phase::Running { plan, saga, .. } = self else {
            return false;
        };
        // A round trip holds it only to undo its return: a thousand completing round trips
        // never touch the lease's row.
        matches!(
            (plan.strategy, &saga.state),
            (
                Strategy::UserCloudManaged,
                State::Running { .. } | State::Compensating { .. }
            ) | (Strategy::RoundTrip, State::Compensating { .. })
        )
    }

    /// The strategy once diagnosed with a plan.
    pub fn strategy(&self) -> Option<Strategy> {
        match self {
            Phase::Queued { plan, .. } | Phase::Running { plan, .. } => Some(plan.strategy),
            Phase::Diagnosed {
                diagnosis: Diagnosis::Plan(plan),
            } => Some(plan.strategy),
            _ => None,
        }
    }
}
