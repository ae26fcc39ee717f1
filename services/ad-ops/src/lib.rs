//! ad-ops: Detour's hands in on-premises Active Directory. It finds and snapshots users, moves
//! them between OUs (and back to a recorded DN), and sets or clears the attribute Connect
//! filters on, over LDAPS with the DC's certificate verified.
//!
//! It consumes the `ad-ops` queue (commands `ad-ops.<command>` on `detour.commands`) and
//! publishes `ad-ops.<event>.v1` on `detour.events`: see `detour_contracts::ad_ops`.
//!
//! # Layout
//! `settings` (`[ldap]` and the shared sections), `directory` (errors,
//! classified from LDAP result codes), `ldap_directory` (the ldap3 adapter), `handlers`
//! (commands in, events out).

pub mod directory;
pub mod handlers;
pub mod ldap_directory;
pub mod settings;

use std::sync::Arc;

use detour_contracts::Service;
use detour_service::ServiceSpec;

pub use settings::AdOpsSettings;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8081;

/// The service, wired to the directory its settings name. Connects on first use.
pub fn spec(settings: &AdOpsSettings) -> anyhow::Result<ServiceSpec> {
    let directory = Arc::new(ldap_directory::LdapDirectory::new(settings.ldap.clone())?);
    let mut spec = ServiceSpec::new(Service::AdOps, DEFAULT_PORT);
    spec.dispatch = handlers::dispatch(directory);
    Ok(spec)
}
