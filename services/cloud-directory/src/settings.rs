//! cloud-directory's settings: the shared sections, and `[graph]`: the tenant, the app's
//! credentials, where Graph and the identity platform are, and how patient calls are.

use detour_config::{Problems, Settings};
use detour_entra::EntraSettings;
use detour_service::{ServiceConfig, ServiceSettings, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudDirectorySettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub graph: GraphSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// `https://graph.microsoft.com`, or tenant-sim's base URL.
    pub base_url: String,
    pub entra: EntraSettings,
}

impl Settings for CloudDirectorySettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        problems.check(
            self.graph.base_url.starts_with("https://")
                || self.graph.base_url.starts_with("http://"),
            "graph.base_url",
            "must be an http(s) URL",
        );
        self.graph.entra.validate("graph.entra", problems);
    }
}

impl ServiceConfig for CloudDirectorySettings {
    const OWN_DEFAULTS: &'static str = r#"
[graph]
base_url = "https://graph.microsoft.com"

[graph.entra]
tenant = ""
client_id = ""
identity_base_url = "https://login.microsoftonline.com"
max_concurrent_calls = 8
max_attempts = 6
backoff_ms = 500
request_timeout_ms = 30000
"#;

    fn base(&self) -> ServiceSettings {
        ServiceSettings {
            amqp: self.amqp.clone(),
            telemetry: self.telemetry.clone(),
            http: self.http.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}
