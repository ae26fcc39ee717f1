//! sync-trigger: Detour's line to the Entra Connect server: it runs sync cycles on request, coalescing requests into shared cycles.
//!
//! It consumes the `sync-trigger` queue (commands routed `sync-trigger.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `sync-trigger.<event>.v<N>`. For now it answers the
//! `ping` every service answers; its own commands arrive with the step they serve.

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8082;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::SyncTrigger, DEFAULT_PORT)
}
