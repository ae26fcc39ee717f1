//! Webhooks in, as plain functions: each source's body becomes an [`Inbound`] (start, approve,
//! decline with a reason for the ticket, or ignore) or a [`Malformed`] saying what is wrong.
//! Signatures and tokens are checked in `signature`, key grammars in `ticket_key`; nothing here
//! does I/O.

pub mod generic;
pub mod jira;
pub mod mapping;
pub mod servicenow;
pub mod signature;
pub mod ticket_key;

use detour_contracts::{TicketRef, Upn};
use time::OffsetDateTime;

/// What a webhook asks of Detour, about one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub ticket: TicketRef,
    pub request: Request,
    /// When the source raised the event, where its body says (Jira's `timestamp`,
    /// ServiceNow's `sys_updated_on`): a delivery older than the replay window is refused.
    pub sent_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Remediate `user` (only diagnose, with `dry_run`).
    Start { user: Upn, dry_run: bool },
    /// The ticket reached its approval state: approve the plan waiting on it.
    Approve { by: String },
    /// A ticket Detour will not act on; the reason goes on the ticket.
    Decline { reason: String },
    /// Nothing to do and nothing worth saying (an event Detour does not follow).
    Ignore { reason: String },
}

impl Request {
    /// Remediate the user a ticket names, or, when what it names is no UPN, decline saying
    /// why (quoting only the start of it).
    fn start_or_decline(named: &str, dry_run: bool) -> Self {
        match Upn::parse(named) {
            Ok(user) => Request::Start { user, dry_run },
            Err(error) => Request::Decline {
                reason: format!("Detour cannot act on this ticket: the user it names, {error}."),
            },
        }
    }
}

/// A body that is not what its source sends; the message says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// The body as a JSON object, or why not.
fn json_object(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, Malformed> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(Malformed("the body must be a JSON object".into())),
        Err(error) => Err(Malformed(format!("the body is not valid JSON: {error}"))),
    }
}

/// At most the first 64 characters of `text`, for an error that quotes what it refuses.
fn truncated(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}
