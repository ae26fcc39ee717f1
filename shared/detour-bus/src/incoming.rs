//! A delivery as a handler sees it: where it came from, which attempt it is, and its body,
//! decoded on demand into a typed envelope.

use std::collections::HashMap;

use detour_contracts::{ContractError, Envelope, EnvelopeHeader, Message};
use lapin::message::Delivery;

use crate::headers::{self, ATTEMPT_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER};

#[derive(Debug, Clone)]
pub struct Incoming {
    /// The exchange and routing key it was first published to (also after a retry).
    pub exchange: String,
    pub routing_key: String,
    pub queue: String,
    pub message_id: Option<String>,
    /// The AMQP `type` property: the message type's name.
    pub message_type: Option<String>,
    /// 1 for the first delivery, growing with each retry.
    pub attempt: u32,
    pub body: Vec<u8>,
    pub(crate) trace_context: HashMap<String, String>,
}

impl Incoming {
    pub(crate) fn from_delivery(delivery: &Delivery, queue: &str) -> Self {
        let properties = &delivery.properties;
        let table = properties.headers().clone().unwrap_or_default();
        Self {
            exchange: headers::get_str(&table, ORIGINAL_EXCHANGE_HEADER)
                .unwrap_or_else(|| delivery.exchange.as_str().to_owned()),
            routing_key: headers::get_str(&table, ORIGINAL_ROUTING_KEY_HEADER)
                .unwrap_or_else(|| delivery.routing_key.as_str().to_owned()),
            queue: queue.to_owned(),
            message_id: properties
                .message_id()
                .as_ref()
                .map(|id| id.as_str().to_owned()),
            message_type: properties
                .kind()
                .as_ref()
                .map(|kind| kind.as_str().to_owned()),
            attempt: headers::get_u32(&table, ATTEMPT_HEADER).unwrap_or(1).max(1),
            body: delivery.data.clone(),
            trace_context: headers::trace_context(&table),
        }
    }

    /// The body as an envelope of `M`; an error says exactly what is wrong with it.
    pub fn decode<M: Message>(&self) -> Result<Envelope<M>, ContractError> {
        Envelope::<M>::from_json(&self.body)
    }

    /// The envelope without its payload: type, version and ids.
    pub fn header(&self) -> Result<EnvelopeHeader, ContractError> {
        EnvelopeHeader::from_json(&self.body)
    }
}
