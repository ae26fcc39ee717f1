//! mailbox-ops's settings: the shared sections, and `[exchange]`: where Exchange Online is, and the
//! Entra app that calls it.

use detour_config::{Problems, SecretKey, Settings};
use detour_entra::ApiSettings;
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxOpsSettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub exchange: ApiSettings,
}

impl Settings for MailboxOpsSettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::required("exchange.entra.client_secret"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        self.exchange.validate("exchange", problems);
    }
}

impl ServiceConfig for MailboxOpsSettings {
    const OWN_DEFAULTS: &'static str =
        detour_entra::api_defaults!("exchange", "https://outlook.office365.com");

    detour_service::shared_sections!();
}
