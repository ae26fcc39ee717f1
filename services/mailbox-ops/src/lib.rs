//! mailbox-ops: Detour's client of Exchange Online. It reads mailboxes (addresses, type,
//! IsDirSynced, IsExchangeCloudManaged), adds an address without touching the others, and sets
//! the cloud-managed flag, through the InvokeCommand endpoint with its own token. The same
//! binary talks to Exchange Online or to tenant-sim by base URL.
//!
//! It consumes the `mailbox-ops` queue and publishes `mailbox-ops.<event>.v1`: see
//! `detour_contracts::mailbox_ops`.
//!
//! # Layout
//! `settings` (`[exchange]` and the shared sections), `exchange` (the port the steps use: what
//! they need of Exchange), `exchange_client` (the real one: InvokeCommand, answers typed, cmdlet
//! errors classified), `handlers` (commands in, events out).

pub mod exchange;
pub mod exchange_client;
pub mod handlers;
pub mod settings;

use std::sync::Arc;

use detour_contracts::Service;
use detour_service::ServiceSpec;

pub use settings::MailboxOpsSettings;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8084;

pub fn spec(settings: &MailboxOpsSettings) -> anyhow::Result<ServiceSpec> {
    let exchange = Arc::new(exchange_client::ExchangeClient::new(
        &settings.exchange.base_url,
        &settings.exchange.entra,
    )?);
    let mut spec = ServiceSpec::new(Service::MailboxOps, DEFAULT_PORT);
    spec.dispatch = handlers::dispatch(exchange);
    Ok(spec)
}
