//! sync-trigger: Detour's line to the Entra Connect server. It makes sure a sync cycle has seen
//! each requester's change, through the Connect agent API, the server's own PowerShell over
//! SSH, or Cloud Sync through Graph (on-demand provisioning where it can): any completed run
//! that started after
//! the change answers (whoever started it), and one cycle is started only for requests no run
//! covers, coalescing all of them. Each requester hears what those runs did to its objects.
//! Its queue has a single active consumer, so replicas never run two cycles at once.
//!
//! It consumes the `sync-trigger` queue and publishes `sync-trigger.<event>.v1`: see
//! `detour_contracts::sync_trigger`.
//!
//! # Layout
//! `settings` (`[connect]` and the shared sections), `connect` (the port: what it needs of the
//! Connect server), `connect_agent_client` (the port over the agent's HTTP API), `ssh` (the
//! port over SSH and the ADSync cmdlets), `cloud_sync` (the port over Graph's synchronization
//! API), `history` (which runs answer which request: pure),
//! `cycles` (the runner that watches runs and starts cycles), `handlers` (commands in, events
//! out).

pub mod cloud_sync;
pub mod connect;
pub mod connect_agent_client;
pub mod cycles;
pub mod handlers;
pub mod history;
pub mod settings;
pub mod ssh;

use std::sync::Arc;

use anyhow::Context;
use detour_contracts::Service;
use detour_service::ServiceSpec;
use settings::Backend;

pub use settings::SyncTriggerSettings;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8082;

/// The service, wired to the Connect server its settings name. Must run inside a Tokio
/// runtime (it starts the cycle runner).
pub fn spec(settings: &SyncTriggerSettings) -> anyhow::Result<ServiceSpec> {
    let connect = &settings.connect;
    match connect.backend {
        Backend::Agent => {
            let key = connect
                .agent_key
                .clone()
                .context("connect.agent_key is required with backend = \"agent\"")?;
            let client = connect_agent_client::AgentClient::new(
                &connect.base_url,
                key,
                connect.request_timeout(),
            )?;
            Ok(wire(Arc::new(client), connect))
        }
        Backend::Ssh => Ok(wire(Arc::new(ssh_client(connect)?), connect)),
        Backend::CloudSync => {
            let client = cloud_sync::CloudSync::new(
                &settings.graph.base_url,
                &settings.graph.entra,
                connect.cloud_sync.configuration.clone(),
                connect.cloud_sync.on_demand_per_10_seconds,
            )?;
            Ok(wire(Arc::new(client), connect))
        }
    }
}

fn ssh_client(connect: &settings::ConnectSettings) -> anyhow::Result<ssh::SshConnect> {
    let ssh = &connect.ssh;
    let key = ssh
        .private_key
        .as_ref()
        .context("connect.ssh.private_key is required with backend = \"ssh\"")?;
    let target = ssh::Target {
        host: ssh.host.clone(),
        port: ssh.port,
        user: ssh.user.clone(),
        key: Arc::new(
            russh::keys::decode_secret_key(key.expose(), None)
                .context("connect.ssh.private_key")?,
        ),
        host_key: russh::keys::ssh_key::PublicKey::from_openssh(ssh.host_key.trim())
            .context("connect.ssh.host_key")?,
        timeout: connect.request_timeout(),
    };
    Ok(ssh::SshConnect::new(
        target,
        ssh.ad_connector.clone(),
        ssh.aad_connector.clone(),
    ))
}

fn wire<C: connect::Connect>(client: Arc<C>, connect: &settings::ConnectSettings) -> ServiceSpec {
    let pacing = cycles::Pacing {
        coalesce_window: connect.coalesce_window(),
        coalesce_quiet: connect.coalesce_quiet(),
        poll_interval: connect.poll_interval(),
        busy_retry: connect.busy_retry(),
        deadline: connect.cycle_deadline(),
    };
    let cycles = cycles::Cycles::start(client.clone(), pacing);
    let mut spec = ServiceSpec::new(Service::SyncTrigger, DEFAULT_PORT);
    spec.dispatch = handlers::dispatch(client, cycles);
    spec.single_active_consumer = true;
    spec
}
