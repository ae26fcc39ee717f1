//! saga-coordinator's commands and events: a request to remediate a user (what the ticket
//! gateway sends, with the ticket in the envelope), and the answer that it was taken on, joined
//! to the user's running remediation, or refused as malformed.

use serde::{Deserialize, Serialize};

use crate::{SagaId, message::service_message};

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
