//! mailbox-ops: Detour's client of Exchange Online: it reads mailboxes and adds addresses to them.
//!
//! It consumes the `mailbox-ops` queue (commands routed `mailbox-ops.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `mailbox-ops.<event>.v<N>`. For now it answers the
//! `ping` every service answers; its own commands arrive with the step they serve.

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8084;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::MailboxOps, DEFAULT_PORT)
}
