//! saga-coordinator's commands and events: a request to remediate a user (what the ticket
//! gateway sends, with the ticket in the envelope), and the answer that it was taken on, joined
//! to the user's running remediation, or refused as malformed.

use serde::{Deserialize, Serialize};

use crate::{SagaId, TicketRef, message::service_message};

/// Remediate `user` (a UPN); with `dry_run`, only diagnose and report the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRemediation {
    pub user: String,
    pub dry_run: bool,
}
service_message!(
    StartRemediation,
    SagaCoordinator,
    "start-remediation",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationAccepted {
    pub saga_id: SagaId,
    pub user: String,
    /// The user already had a remediation running: this request joined it.
    pub joined: bool,
    /// The ticket the remediation reports to (the one that started it), when it has one: a
    /// request from another ticket learns where the progress goes.
    pub reports_to: Option<TicketRef>,
}
service_message!(
    RemediationAccepted,
    SagaCoordinator,
    "remediation-accepted",
    Event
);

/// The request cannot be taken on as it is (e.g. the user is not a UPN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationRejected {
    pub user: String,
    pub reason: String,
}
service_message!(
    RemediationRejected,
    SagaCoordinator,
    "remediation-rejected",
    Event
);

/// Approve the plan a ticket's remediation awaits (the ticket, in the envelope, says which):
/// what the gateway sends when a ticket reaches its approval state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRemediation {
    /// Who approved, as the ticket system names them (for the audit trail).
    pub approved_by: String,
}
service_message!(
    ApproveRemediation,
    SagaCoordinator,
    "approve-remediation",
    Command
);

/// A milestone of a ticket's remediation, for the ticket: published once per milestone (a
/// redelivery repeats the same `milestone`, which is what writers deduplicate on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationProgress {
    pub saga_id: SagaId,
    pub user: String,
    /// Unique within the saga, e.g. `diagnosed`, `step:restore`, `final`.
    pub milestone: String,
    pub stage: Stage,
    /// One line saying what happened.
    pub headline: String,
    /// What a person needs beyond the headline: the plan, the diff, the reason.
    pub details: Vec<String>,
    /// The remediation's trace, to find it in the tracing backend.
    pub trace_id: Option<String>,
}
service_message!(
    RemediationProgress,
    SagaCoordinator,
    "remediation-progress",
    Event
);

/// Where a remediation is, as a ticket shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", content = "outcome", rename_all = "kebab-case")]
pub enum Stage {
    /// Diagnosed with a plan that will be carried out.
    Diagnosed,
    /// The plan waits for the ticket's approval.
    AwaitingApproval,
    /// A step of the plan is done.
    Phase,
    /// A step failed for good: what was done is being undone.
    Compensating,
    /// A person is needed (the ticket is escalated); the final word comes later.
    NeedsAttention,
    /// The one last word on the ticket.
    Final(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The address is there and the user is synced as before.
    Fixed,
    NothingToDo,
    /// A dry run: the plan, nothing changed.
    Planned,
    Refused,
    /// The diagnosis could not be made; nothing changed.
    Undiagnosable,
    /// Undone: the user is back as before, without the address.
    Compensated,
    /// An operator settled it by hand.
    Resolved,
}

impl Outcome {
    /// Whether the ticket can be closed as done.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Fixed | Outcome::NothingToDo)
    }
}
