//! mailbox-ops's settings: the shared sections, and `[exchange]`: the tenant, the app's
//! credentials, where Exchange Online and the identity platform are, and how patient calls are.

use detour_config::{Problems, Settings};
use detour_entra::EntraSettings;
use detour_service::{ServiceConfig, ServiceSettings, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxOpsSettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub exchange: ExchangeSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    /// `https://outlook.office365.com`, or tenant-sim's base URL.
    pub base_url: String,
    pub entra: EntraSettings,
}

impl Settings for MailboxOpsSettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        problems.check(
            self.exchange.base_url.starts_with("https://")
                || self.exchange.base_url.starts_with("http://"),
            "exchange.base_url",
            "must be an http(s) URL",
        );
        self.exchange.entra.validate("exchange.entra", problems);
    }
}

impl ServiceConfig for MailboxOpsSettings {
    const OWN_DEFAULTS: &'static str = r#"
[exchange]
base_url = "https://outlook.office365.com"

[exchange.entra]
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
