//! What every message type declares about itself: name, schema version, kind and routing key.

use std::fmt;

use serde::{Serialize, de::DeserializeOwned};

use crate::Service;

/// Topic exchange for commands; routing key `<service>.<command>`.
pub const COMMANDS_EXCHANGE: &str = "detour.commands";
/// Topic exchange for events; routing key `<producer>.<event>.v<N>`.
pub const EVENTS_EXCHANGE: &str = "detour.events";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Asks one service to do something (imperative name).
    Command,
    /// Says something happened (past-tense name); any number of consumers.
    Event,
}

impl MessageKind {
    pub fn exchange(&self) -> &'static str {
        match self {
            MessageKind::Command => COMMANDS_EXCHANGE,
            MessageKind::Event => EVENTS_EXCHANGE,
        }
    }
}

/// A message type. Its name and version travel in the envelope; its routing key decides
/// which queues receive it.
pub trait Message: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Kebab-case name, e.g. `ping`, `user-moved`.
    const NAME: &'static str;
    /// Schema version of the payload; a breaking change is a new version.
    const VERSION: u32;
    const KIND: MessageKind;

    fn routing_key(&self) -> RoutingKey;

    /// The routing key every message of this type travels with, for a queue to bind exactly
    /// what it handles; `None` when the key depends on the payload (ping and pong).
    fn fixed_routing_key() -> Option<RoutingKey> {
        None
    }
}

/// A topic routing key, built only by the constructors below so keys keep one shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutingKey(String);

impl RoutingKey {
    /// `<service>.<command>`, e.g. `ad-ops.move-user`.
    pub fn command(service: Service, name: &str) -> Self {
        Self(format!("{service}.{name}"))
    }

    /// `<producer>.<event>.v<N>`, e.g. `ad-ops.user-moved.v1`.
    pub fn event(producer: Service, name: &str, version: u32) -> Self {
        Self(format!("{producer}.{name}.v{version}"))
    }

    /// The key of a message type that `service` owns: a command to it, or an event from it.
    pub fn of<M: Message>(service: Service) -> Self {
        match M::KIND {
            MessageKind::Command => Self::command(service, M::NAME),
            MessageKind::Event => Self::event(service, M::NAME, M::VERSION),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoutingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Implements [`Message`] for a type `$service` owns: commands route as
/// `<service>.<name>`, events as `<service>.<name>.v1`.
macro_rules! service_message {
    ($type:ty, $service:ident, $name:literal, $kind:ident) => {
        impl $crate::Message for $type {
            const NAME: &'static str = $name;
            const VERSION: u32 = 1;
            const KIND: $crate::MessageKind = $crate::MessageKind::$kind;

            fn routing_key(&self) -> $crate::RoutingKey {
                $crate::RoutingKey::of::<Self>($crate::Service::$service)
            }

            fn fixed_routing_key() -> Option<$crate::RoutingKey> {
                Some($crate::RoutingKey::of::<Self>($crate::Service::$service))
            }
        }
    };
}
pub(crate) use service_message;
