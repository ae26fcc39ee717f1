//! cloud-directory: Detour's client of Microsoft Graph. It reads users (with their licences,
//! their source, and admin roles), deleted users, the tenant's sync features and seats; it
//! restores users and assigns or removes direct licences. Tokens, throttling and retries come
//! from `detour-entra`; the same binary talks to Graph or to tenant-sim by base URL.
//!
//! It consumes the `cloud-directory` queue and publishes `cloud-directory.<event>.v1`: see
//! `detour_contracts::cloud_directory`.
//!
//! # Layout
//! `settings` (`[graph]` and the shared sections), `graph` (the port the steps use: what they
//! need of Graph), `graph_client` (the real one, over reqwest, answers typed and errors
//! classified), `handlers`
//! (commands in, events out).

pub mod graph;
pub mod graph_client;
pub mod handlers;
pub mod settings;

use std::sync::Arc;

use detour_contracts::Service;
use detour_service::ServiceSpec;

pub use settings::CloudDirectorySettings;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8083;

pub fn spec(settings: &CloudDirectorySettings) -> anyhow::Result<ServiceSpec> {
    let graph = Arc::new(graph_client::GraphClient::new(
        &settings.graph.base_url,
        &settings.graph.entra,
    )?);
    let mut spec = ServiceSpec::new(Service::CloudDirectory, DEFAULT_PORT);
    spec.dispatch = handlers::dispatch(graph);
    Ok(spec)
}
