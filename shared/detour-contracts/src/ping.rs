//! Liveness across the bus: any service answers a [`Ping`] addressed to it with a [`Pong`].
//! The pong reports the trace id the responder saw, which proves trace context crossed the hop.

use serde::{Deserialize, Serialize};

use crate::{Message, MessageKind, RoutingKey, Service};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub target: Service,
}

impl Message for Ping {
    const NAME: &'static str = "ping";
    const VERSION: u32 = 1;
    const KIND: MessageKind = MessageKind::Command;

    fn routing_key(&self) -> RoutingKey {
        RoutingKey::command(self.target, Self::NAME)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pong {
    pub responder: Service,
    /// The responding instance (host name and process id), to tell replicas apart.
    pub instance: String,
    /// W3C trace id (32 hex digits) of the span that handled the ping.
    pub trace_id: Option<String>,
}

impl Message for Pong {
    const NAME: &'static str = "pong";
    const VERSION: u32 = 1;
    const KIND: MessageKind = MessageKind::Event;

    fn routing_key(&self) -> RoutingKey {
        RoutingKey::event(self.responder, Self::NAME, Self::VERSION)
    }
}
