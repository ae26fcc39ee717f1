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

/// A service's whole settings: the shared sections, plus any of its own (ad-ops's `[ldap]`).
/// A service with sections of its own lists all of them in one struct (so unknown keys stay
/// errors) and hands the shell the shared ones through [`ServiceConfig::base`].
pub trait ServiceConfig: Settings + std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Defaults of the service's own sections, as TOML.
    const OWN_DEFAULTS: &'static str = "";
    /// Deliveries handled at once by default (`amqp.concurrency`; prefetch at least as many).
    const DEFAULT_CONCURRENCY: u16 = 8;

    fn base(&self) -> ServiceSettings;
}

/// [`ServiceConfig::base`] for a settings struct that holds the shared sections as its
/// fields `amqp`, `telemetry`, `http` and `shutdown`: write `detour_service::shared_sections!();`
/// inside its `impl ServiceConfig`.
#[macro_export]
macro_rules! shared_sections {
    () => {
        fn base(&self) -> $crate::ServiceSettings {
            $crate::ServiceSettings {
                amqp: self.amqp.clone(),
                telemetry: self.telemetry.clone(),
                http: self.http.clone(),
                shutdown: self.shutdown.clone(),
            }
        }
    };
}

impl ServiceConfig for ServiceSettings {
    fn base(&self) -> ServiceSettings {
        self.clone()
    }
}

/// The defaults, as the TOML a settings file would contain. The AMQP credentials are
/// RabbitMQ's stock local ones: fine on a developer's machine, overridden everywhere else.
pub fn defaults(default_port: u16, concurrency: u16) -> String {
    format!(
        r#"
[amqp]
host = "127.0.0.1"
port = 5672
username = "guest"
password = "guest"
vhost = "/"
prefetch = {prefetch}
concurrency = {concurrency}
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
        port = default_port,
        prefetch = concurrency.max(32),
    )
}

/// Loads the service's settings: its defaults, then the sources' file and environment.
pub fn load_settings(spec: &ServiceSpec, sources: Sources) -> Result<ServiceSettings, ConfigError> {
    load_config(spec.default_port, sources)
}

/// Loads a service's whole settings, its own sections included.
pub fn load_config<S: ServiceConfig>(
    default_port: u16,
    sources: Sources,
) -> Result<S, ConfigError> {
    detour_config::load(&with_defaults::<S>(default_port, sources))
}

/// Parses a service's settings without validating them (see `detour_config::parse`).
pub fn parse_config<S: ServiceConfig>(
    default_port: u16,
    sources: Sources,
) -> Result<S, ConfigError> {
    detour_config::parse(&with_defaults::<S>(default_port, sources))
}

fn with_defaults<S: ServiceConfig>(default_port: u16, mut sources: Sources) -> Sources {
    sources.defaults = format!(
        "{}\n{}",
        defaults(default_port, S::DEFAULT_CONCURRENCY),
        S::OWN_DEFAULTS
    );
    sources
}
