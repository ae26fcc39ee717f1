//! ad-ops: Detour's hands in on-premises Active Directory: it finds, snapshots and moves users over LDAP on command.
//!
//! It consumes the `ad-ops` queue (commands routed `ad-ops.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `ad-ops.<event>.v<N>`. For now it answers the
//! `ping` every service answers; its own commands arrive with the step they serve.

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8081;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::AdOps, DEFAULT_PORT)
}
