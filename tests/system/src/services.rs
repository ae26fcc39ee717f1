//! The six services as one table: spec and default operations port, from their own crates.

use detour_contracts::Service;
use detour_service::ServiceSpec;

pub fn spec(service: Service) -> ServiceSpec {
    match service {
        Service::AdOps => ad_ops::spec(),
        Service::SyncTrigger => sync_trigger::spec(),
        Service::CloudDirectory => cloud_directory::spec(),
        Service::MailboxOps => mailbox_ops::spec(),
        Service::SagaCoordinator => saga_coordinator::spec(),
        Service::TicketGateway => ticket_gateway::spec(),
    }
}

pub fn all_specs() -> Vec<ServiceSpec> {
    Service::ALL.into_iter().map(spec).collect()
}
