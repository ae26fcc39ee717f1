//! ticket-gateway: Detour's front door: ticket webhooks in, remediation requests out, and progress written back to the ticket.
//!
//! It consumes the `ticket-gateway` queue (commands routed `ticket-gateway.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `ticket-gateway.<event>.v<N>`. For now it answers the
//! `ping` every service answers; its own commands arrive with the step they serve.

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8086;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::TicketGateway, DEFAULT_PORT)
}
