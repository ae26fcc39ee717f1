//! The envelope around every payload on the bus: identity, causality, saga and ticket, time,
//! type and schema version. Trace context does not live here: it rides in AMQP headers.

use serde::{Deserialize, Serialize, de::IgnoredAny};
use time::OffsetDateTime;

use crate::{Message, MessageId, SagaId, TicketRef};

/// Its own fields are read tolerantly: one it does not know (added by a newer sender, as
/// `expires_at` was) is ignored, so services can be upgraded one at a time. The payload is
/// strict and versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<P> {
    pub message_id: MessageId,
    /// The saga this message belongs to; `None` outside a saga (e.g. a ping).
    pub saga_id: Option<SagaId>,
    /// The message that caused this one; `None` for a first message.
    pub causation_id: Option<MessageId>,
    pub ticket: Option<TicketRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// A command not carried out by then never is: its sender has stopped waiting for it (a
    /// saga fails a step at its deadline), so a copy delivered later is dead-lettered as
    /// expired instead of acting on a world that has moved on. `None`: it never expires.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// For a saga's command: which of its steps sent it (`Descope`, `read AdUser`,
    /// `compensation 1`), and which attempt of that step, for logs, traces and dead letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(rename = "type")]
    pub message_type: String,
    pub version: u32,
    pub payload: P,
}

/// The envelope without its payload: enough to route, dedup and dead-letter a message whose
/// payload does not parse.
pub type EnvelopeHeader = Envelope<IgnoredAny>;

impl<P> Envelope<P> {
    /// Whether it is past its expiry at `now`.
    pub fn has_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("not a Detour envelope: {0}")]
    Malformed(#[source] serde_json::Error),
    #[error("expected a {expected} message, got {actual}")]
    WrongType { expected: String, actual: String },
    #[error(
        "{message_type} version {actual} is not supported (this build reads version {expected})"
    )]
    UnsupportedVersion {
        message_type: String,
        expected: u32,
        actual: u32,
    },
    #[error("could not encode {message_type}: {source}")]
    Encode {
        message_type: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl<P: Message> Envelope<P> {
    /// A first message: no cause, no saga, no ticket.
    pub fn new(payload: P) -> Self {
        Self {
            message_id: MessageId::new(),
            saga_id: None,
            causation_id: None,
            ticket: None,
            occurred_at: OffsetDateTime::now_utc(),
            expires_at: None,
            step: None,
            attempt: None,
            message_type: P::NAME.to_owned(),
            version: P::VERSION,
            payload,
        }
    }

    /// A message caused by `cause`: same saga and ticket, `causation_id` pointing at it.
    pub fn caused_by<Q>(payload: P, cause: &Envelope<Q>) -> Self {
        Self {
            saga_id: cause.saga_id,
            causation_id: Some(cause.message_id),
            ticket: cause.ticket.clone(),
            ..Self::new(payload)
        }
    }

    pub fn with_saga(mut self, saga_id: SagaId) -> Self {
        self.saga_id = Some(saga_id);
        self
    }

    pub fn with_ticket(mut self, ticket: TicketRef) -> Self {
        self.ticket = Some(ticket);
        self
    }

    pub fn expiring_at(mut self, at: OffsetDateTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    pub fn to_json(&self) -> Result<Vec<u8>, ContractError> {
        serde_json::to_vec(self).map_err(|source| ContractError::Encode {
            message_type: P::NAME,
            source,
        })
    }

    /// Parses an envelope of exactly this type and version; anything else is an error that
    /// says which.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ContractError> {
        let header = EnvelopeHeader::from_json(bytes)?;
        if header.message_type != P::NAME {
            return Err(ContractError::WrongType {
                expected: P::NAME.to_owned(),
                actual: header.message_type,
            });
        }
        if header.version != P::VERSION {
            return Err(ContractError::UnsupportedVersion {
                message_type: header.message_type,
                expected: P::VERSION,
                actual: header.version,
            });
        }
        serde_json::from_slice(bytes).map_err(ContractError::Malformed)
    }
}

impl EnvelopeHeader {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ContractError> {
        serde_json::from_slice(bytes).map_err(ContractError::Malformed)
    }
}
