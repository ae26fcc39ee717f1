//! Tickets out: what to write (`render`, pure), and writing it through each system's REST API
//! (`jira`, `servicenow`) with retries on 429 and 5xx (`http`). Every comment carries a marker
//! line, and a comment whose marker the ticket already shows is not posted again: a redelivered
//! event never makes a second comment.

pub mod http;
pub mod jira;
pub mod render;
pub mod servicenow;

use detour_contracts::{TicketRef, TicketSystem};

pub use render::{FollowUp, Note};

/// Why a ticket write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Worth trying again later (throttled, unavailable, unreachable).
    #[error("{0}")]
    Transient(String),
    /// The ticket system refused; trying again will not help.
    #[error("{0}")]
    Refused(String),
}

/// The ticket systems this gateway writes to.
#[derive(Debug, Clone, Default)]
pub struct Writers {
    pub jira: Option<jira::JiraClient>,
    pub servicenow: Option<servicenow::ServiceNowClient>,
}

impl Writers {
    /// Posts `note` on `ticket` (unless it is there already), then takes `follow_up`.
    /// Generic tickets have no system to write to: their progress is in the coordinator's API.
    pub async fn write(
        &self,
        ticket: &TicketRef,
        note: &Note,
        follow_up: FollowUp,
    ) -> Result<(), WriteError> {
        match (ticket.system, &self.jira, &self.servicenow) {
            (TicketSystem::Jira, Some(jira), _) => {
                jira.comment(&ticket.key, note).await?;
                jira.follow_up(&ticket.key, follow_up).await
            }
            (TicketSystem::ServiceNow, _, Some(servicenow)) => {
                let sys_id = servicenow.sys_id(&ticket.key).await?;
                servicenow.work_note(&sys_id, note).await?;
                servicenow.follow_up(&sys_id, follow_up, note).await
            }
            (TicketSystem::Generic, _, _) => {
                tracing::info!(%ticket, note = %note.lines.join(" / "), "progress for a generic ticket");
                Ok(())
            }
            _ => Err(WriteError::Refused(format!(
                "{ticket}: that ticket system is not enabled here"
            ))),
        }
    }
}
