//! The settings every service shares (`[amqp]`, `[telemetry]`, `[http]`, `[shutdown]`) and
//! their built-in defaults.

use std::{net::SocketAddr, time::Duration};

use detour_bus::AmqpSettings;
use detour_config::{ConfigError, Problems, Settings, Sources};
use detour_telemetry::TelemetrySettings;
use serde::Deserialize;

use crate::ServiceSpec;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub http: HttpSettings,
    pub shutdown: ShutdownSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    /// How long in-flight messages may take to finish after SIGTERM.
    pub drain_timeout_ms: u64,
}

impl ShutdownSettings {
    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
}

impl Settings for ServiceSettings {
    const LIST_KEYS: &'static [&'static str] = AmqpSettings::LIST_KEYS;

    fn validate(&self, problems: &mut Problems) {
        self.amqp.validate(problems);
        self.telemetry.validate(problems);
        problems.check(
            self.shutdown.drain_timeout_ms > 0,
            "shutdown.drain_timeout_ms",
            "must be positive",
        );
    }
}

/// The defaults, as the TOML a settings file would contain. The AMQP credentials are
/// RabbitMQ's stock local ones: fine on a developer's machine, overridden everywhere else.
pub fn defaults(spec: &ServiceSpec) -> String {
    format!(
        r#"
[amqp]
host = "127.0.0.1"
port = 5672
username = "guest"
password = "guest"
vhost = "/"
prefetch = 32
concurrency = 8
retry_delays_ms = [1000, 5000, 30000]
max_attempts = 5
delivery_limit = 20
publish_timeout_ms = 30000
reconnect_min_ms = 200
reconnect_max_ms = 10000

[telemetry]
otlp_endpoint = ""
log_filter = "info"
log_format = "json"

[http]
listen = "127.0.0.1:{port}"

[shutdown]
drain_timeout_ms = 20000
"#,
        port = spec.default_port
    )
}

/// Loads the service's settings: its defaults, then the sources' file and environment.
pub fn load_settings(
    spec: &ServiceSpec,
    mut sources: Sources,
) -> Result<ServiceSettings, ConfigError> {
    sources.defaults = defaults(spec);
    detour_config::load(&sources)
}
