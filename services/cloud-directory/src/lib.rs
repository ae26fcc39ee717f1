//! cloud-directory: Detour's client of Microsoft Graph: it reads and restores users and manages their licences.
//!
//! It consumes the `cloud-directory` queue (commands routed `cloud-directory.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `cloud-directory.<event>.v<N>`. For now it answers the
//! `ping` every service answers; its own commands arrive with the step they serve.

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8083;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::CloudDirectory, DEFAULT_PORT)
}
