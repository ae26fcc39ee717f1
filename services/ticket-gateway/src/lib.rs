//! ticket-gateway: Detour's front door. Ticket webhooks come in (Jira, ServiceNow, a generic
//! JSON endpoint) and become remediation requests or approvals for the coordinator; the
//! coordinator's progress comes back and is written to the ticket as comments, with a
//! transition or state change on success and an escalation when a person is needed.
//!
//! It serves the webhooks on its ops port, consumes the `ticket-gateway` queue (its own
//! `post-ticket-note` command, and the coordinator's progress, accepted and rejected events on
//! `detour.events`, bound one by one) and
//! publishes `saga-coordinator.start-remediation` and `approve-remediation`.
//!
//! # Layout
//! `inbound` (each source's body to a request, signatures; pure), `webhook` (the HTTP edge),
//! `deliveries` (the delivery ids taken, in SQLite or PostgreSQL),
//! `outbound` (what to write, and the Jira and ServiceNow clients), `progress` (the queue's
//! messages to ticket writes), `settings`.

pub mod deliveries;
pub mod inbound;
pub mod outbound;
pub mod progress;
pub mod settings;
pub mod webhook;

use detour_contracts::Service;
use detour_service::{Extras, ServiceSpec, Setup};
pub use settings::GatewaySettings;

use crate::outbound::{Writers, jira::JiraClient, servicenow::ServiceNowClient};

/// The operations port (`/healthz`, `/readyz`, `/metrics`, and the webhooks).
pub const DEFAULT_PORT: u16 = 8086;

pub fn spec(settings: &GatewaySettings) -> anyhow::Result<ServiceSpec> {
    let writers = Writers {
        jira: settings
            .jira
            .enabled
            .then(|| JiraClient::new(&settings.jira))
            .transpose()?,
        servicenow: settings
            .servicenow
            .enabled
            .then(|| ServiceNowClient::new(&settings.servicenow))
            .transpose()?,
    };
    let settings = settings.clone();
    let setup = Setup::new(move |publisher| {
        let settings = settings.clone();
        async move {
            let routes = webhook::router(&settings, publisher).await?;
            Ok(Extras::default().routes(routes))
        }
    });
    let mut spec = ServiceSpec::new(Service::TicketGateway, DEFAULT_PORT).setup(setup);
    spec.dispatch = progress::dispatch(writers);
    Ok(spec)
}
