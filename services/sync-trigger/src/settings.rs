//! sync-trigger's settings: the shared sections, and `[connect]`: where the Connect agent is,
//! its key, and how cycles are paced.

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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSettings {
    /// The Connect agent API, e.g. `https://aadc01.corp.example.com:8443`.
    pub base_url: String,
    /// Or `agent_key_file`.
    pub agent_key: Secret,
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
    const SECRETS: &'static [SecretKey] = &[SecretKey::required("connect.agent_key")];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        let connect = &self.connect;
        problems.check(
            connect.base_url.starts_with("https://") || connect.base_url.starts_with("http://"),
            "connect.base_url",
            "must be an http(s) URL",
        );
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

impl ServiceConfig for SyncTriggerSettings {
    const OWN_DEFAULTS: &'static str = r#"
[connect]
base_url = "http://127.0.0.1:8090"
coalesce_window_ms = 10000
coalesce_quiet_ms = 1000
poll_interval_ms = 1000
busy_retry_ms = 2000
request_timeout_ms = 10000
cycle_deadline_seconds = 7200
"#;
    /// Every request waiting for a cycle holds a delivery: room for two batches of
    /// `max_descoped` (one batch's SyncOut riding the previous batch's SyncIn) and redeliveries.
    const DEFAULT_CONCURRENCY: u16 = 4096;

    detour_service::shared_sections!();
}
