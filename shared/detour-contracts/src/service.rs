//! The six Detour services, by the names used in routing keys and queue names.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    AdOps,
    SyncTrigger,
    CloudDirectory,
    MailboxOps,
    SagaCoordinator,
    TicketGateway,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::AdOps,
        Service::SyncTrigger,
        Service::CloudDirectory,
        Service::MailboxOps,
        Service::SagaCoordinator,
        Service::TicketGateway,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Service::AdOps => "ad-ops",
            Service::SyncTrigger => "sync-trigger",
            Service::CloudDirectory => "cloud-directory",
            Service::MailboxOps => "mailbox-ops",
            Service::SagaCoordinator => "saga-coordinator",
            Service::TicketGateway => "ticket-gateway",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown service {0:?}; expected one of ad-ops, sync-trigger, cloud-directory, mailbox-ops, saga-coordinator, ticket-gateway"
)]
pub struct UnknownService(pub String);

impl FromStr for Service {
    type Err = UnknownService;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.as_str() == s)
            .ok_or_else(|| UnknownService(s.to_owned()))
    }
}
