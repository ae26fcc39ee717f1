//! ticket-gateway's own command: a note for a ticket (the ticket in the envelope) that does not
//! come from a remediation, e.g. why a ticket will not be acted on. Sent to itself, so the
//! write is retried through the bus like any other and never lost with a webhook's response.

use serde::{Deserialize, Serialize};

use crate::message::service_message;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostTicketNote {
    /// Unique per ticket for one note: a repeat with the same key is not posted again.
    pub key: String,
    pub lines: Vec<String>,
}
service_message!(PostTicketNote, TicketGateway, "post-ticket-note", Command);
