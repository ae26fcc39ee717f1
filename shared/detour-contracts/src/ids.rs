//! Typed identifiers carried by the envelope.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A UUIDv7 identifier (so ids sort by creation time), serialized as the plain UUID.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identifies one message.
    MessageId
);
uuid_id!(
    /// Identifies one remediation saga, from its request to its final outcome.
    SagaId
);

/// The ticket system a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TicketSystem {
    Jira,
    ServiceNow,
    Generic,
}

/// The ticket a message belongs to, so progress can be written back to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketRef {
    pub system: TicketSystem,
    /// The ticket's key in its system, e.g. `HELP-42` or `INC0010001`.
    pub key: String,
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let system = match self.system {
            TicketSystem::Jira => "jira",
            TicketSystem::ServiceNow => "servicenow",
            TicketSystem::Generic => "generic",
        };
        write!(f, "{system}:{}", self.key)
    }
}
