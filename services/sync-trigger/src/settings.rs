//! sync-trigger's settings: the shared sections, and `[connect]`: which way it reaches the
//! Connect server (the Connect agent's API, or the server's PowerShell over SSH with
//! `[connect.ssh]`), and how cycles are paced.

use std::time::Duration;

use detour_config::{Problems, Secret, SecretKey, Settings};
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncTriggerSettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub connect: ConnectSettings,
    /// Graph, for the Cloud Sync backend.
    pub graph: detour_entra::ApiSettings,
}

/// How the Connect server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The Connect agent's HTTP API (`base_url`, `agent_key`): what tenant-sim serves.
    Agent,
    /// The server's own OpenSSH and Windows PowerShell (`[connect.ssh]`).
    Ssh,
    /// Entra Cloud Sync through Graph's synchronization API (`[connect.cloud_sync]`,
    /// `[graph]`).
    CloudSync,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    pub backend: Backend,
    /// The Connect agent API, e.g. `https://aadc01.corp.example.com:8443`.
    pub base_url: String,
    /// Or `agent_key_file`. Needed by the agent backend.
    pub agent_key: Option<Secret>,
    pub ssh: SshSettings,
    pub cloud_sync: CloudSyncSettings,
    /// The longest a request waits for others to ride the same cycle.
    pub coalesce_window_ms: u64,
    /// A cycle starts sooner once no new request has come for this long.
    pub coalesce_quiet_ms: u64,
    /// How often a running cycle's result is polled.
    pub poll_interval_ms: u64,
    /// How long to wait before asking again when Connect is busy.
    pub busy_retry_ms: u64,
    pub request_timeout_ms: u64,
    /// Give up on a cycle that has not finished (or started) by then.
    pub cycle_deadline_seconds: u64,
}

/// The Connect server over SSH (`deploy/entra-app.md` says how to set its account up).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The account's private key, OpenSSH format, unencrypted: or `private_key_file`.
    pub private_key: Option<Secret>,
    /// The server's host key, as `ssh-keyscan` or its `ssh_host_ed25519_key.pub` shows it
    /// (`ssh-ed25519 AAAA...`): the only key accepted.
    pub host_key: String,
    /// The AD connector's name (`Get-ADSyncConnector | Select-Object Name`), e.g.
    /// `corp.example.com`.
    pub ad_connector: String,
    /// The cloud connector's, e.g. `contoso.onmicrosoft.com - AAD`.
    pub aad_connector: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSyncSettings {
    /// The Cloud Sync configuration, by its name: the AD domain it syncs (`corp.example.com`).
    pub configuration: String,
    /// On-demand provisioning's limit (5 per 10 s, domain-2026.md 1.1).
    pub on_demand_per_10_seconds: usize,
}

impl ConnectSettings {
    pub fn coalesce_window(&self) -> Duration {
        Duration::from_millis(self.coalesce_window_ms)
    }

    pub fn coalesce_quiet(&self) -> Duration {
        Duration::from_millis(self.coalesce_quiet_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn busy_retry(&self) -> Duration {
        Duration::from_millis(self.busy_retry_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn cycle_deadline(&self) -> Duration {
        Duration::from_secs(self.cycle_deadline_seconds)
    }
}

impl Settings for SyncTriggerSettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::optional("connect.agent_key"),
        SecretKey::optional("connect.ssh.private_key"),
        SecretKey::optional("graph.entra.client_secret"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        let connect = &self.connect;
        match connect.backend {
            Backend::Agent => {
                problems.check(
                    connect.base_url.starts_with("https://")
                        || connect.base_url.starts_with("http://"),
                    "connect.base_url",
                    "must be an http(s) URL",
                );
                problems.check(
                    connect.agent_key.as_ref().is_some_and(|k| !k.is_blank()),
                    "connect.agent_key",
                    "is required with backend = \"agent\" (or agent_key_file)",
                );
            }
            Backend::Ssh => connect.ssh.validate(problems),
            Backend::CloudSync => {
                problems.check(
                    !connect.cloud_sync.configuration.trim().is_empty(),
                    "connect.cloud_sync.configuration",
                    "is required with backend = \"cloud-sync\" (the AD domain the configuration syncs)",
                );
                problems.check(
                    (1..=5).contains(&connect.cloud_sync.on_demand_per_10_seconds),
                    "connect.cloud_sync.on_demand_per_10_seconds",
                    "must be 1 to 5, Graph's limit",
                );
                self.graph.validate("graph", problems);
            }
        }
        problems.check(
            connect.poll_interval_ms > 0,
            "connect.poll_interval_ms",
            "must be positive",
        );
        problems.check(
            connect.busy_retry_ms > 0,
            "connect.busy_retry_ms",
            "must be positive",
        );
        problems.check(
            connect.request_timeout_ms > 0,
            "connect.request_timeout_ms",
            "must be positive",
        );
        problems.check(
            connect.cycle_deadline_seconds > 0,
            "connect.cycle_deadline_seconds",
            "must be positive",
        );
    }
}

impl SshSettings {
    fn validate(&self, problems: &mut Problems) {
        for (key, value) in [
            ("connect.ssh.host", &self.host),
            ("connect.ssh.user", &self.user),
            ("connect.ssh.ad_connector", &self.ad_connector),
            ("connect.ssh.aad_connector", &self.aad_connector),
        ] {
            problems.check(
                !value.trim().is_empty(),
                key,
                "is required with backend = \"ssh\"",
            );
        }
        problems.check(self.port > 0, "connect.ssh.port", "must be a port number");
        match self.private_key.as_ref().filter(|k| !k.is_blank()) {
            None => problems.add(
                "connect.ssh.private_key",
                "is required with backend = \"ssh\" (or private_key_file)",
            ),
            Some(key) => {
                if let Err(error) = russh::keys::decode_secret_key(key.expose(), None) {
                    problems.add(
                        "connect.ssh.private_key",
                        format!("is not an unencrypted OpenSSH private key: {error}"),
                    );
                }
            }
        }
        if let Err(error) = russh::keys::ssh_key::PublicKey::from_openssh(self.host_key.trim()) {
            problems.add(
                "connect.ssh.host_key",
                format!("must be the server's public host key (`ssh-ed25519 AAAA...`): {error}"),
            );
        }
    }
}

impl ServiceConfig for SyncTriggerSettings {
    const OWN_DEFAULTS: &'static str = concat!(
        r#"
[connect]
backend = "agent"
base_url = "http://127.0.0.1:8090"
coalesce_window_ms = 10000
coalesce_quiet_ms = 1000
poll_interval_ms = 1000
busy_retry_ms = 2000
request_timeout_ms = 10000
cycle_deadline_seconds = 7200

[connect.cloud_sync]
configuration = ""
on_demand_per_10_seconds = 5

[connect.ssh]
host = ""
port = 22
user = ""
host_key = ""
ad_connector = ""
aad_connector = ""

"#,
        detour_entra::api_defaults!("graph", "https://graph.microsoft.com"),
    );
    /// Every request waiting for a cycle holds a delivery: room for two batches of
    /// `max_descoped` (one batch's SyncOut riding the previous batch's SyncIn) and redeliveries.
    const DEFAULT_CONCURRENCY: u16 = 4096;

    detour_service::shared_sections!();
}

#[cfg(test)]
mod tests {
    use detour_config::Sources;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<SyncTriggerSettings, String> {
        detour_service::load_config::<SyncTriggerSettings>(
            8082,
            Sources::from_pairs(String::new(), pairs.iter().copied()),
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn each_backend_asks_for_what_it_needs_and_nothing_else() {
        let agent = load(&[]).unwrap_err();
        assert!(agent.contains("connect.agent_key"), "{agent}");
        assert!(load(&[("DETOUR__CONNECT__AGENT_KEY", "k")]).is_ok());

        let ssh = load(&[
            ("DETOUR__CONNECT__BACKEND", "ssh"),
            ("DETOUR__CONNECT__SSH__HOST", "aadc01"),
            ("DETOUR__CONNECT__SSH__PRIVATE_KEY", "not a key"),
            ("DETOUR__CONNECT__SSH__HOST_KEY", "ssh-ed25519 nonsense"),
        ])
        .unwrap_err();
        for key in [
            "connect.ssh.user",
            "connect.ssh.ad_connector",
            "connect.ssh.aad_connector",
            "connect.ssh.private_key: is not an unencrypted OpenSSH private key",
            "connect.ssh.host_key",
        ] {
            assert!(ssh.contains(key), "{key} in {ssh}");
        }
        assert!(!ssh.contains("connect.agent_key"), "{ssh}");

        let cloud_sync = load(&[("DETOUR__CONNECT__BACKEND", "cloud-sync")]).unwrap_err();
        for key in [
            "connect.cloud_sync.configuration",
            "graph.entra.tenant",
            "graph.entra.client_secret",
        ] {
            assert!(cloud_sync.contains(key), "{key} in {cloud_sync}");
        }
        assert!(!cloud_sync.contains("connect.agent_key"), "{cloud_sync}");
    }
}
