//! cloud-directory's settings: the shared sections, and `[graph]`: where Graph is, and the
//! Entra app that calls it.

use detour_config::{Problems, SecretKey, Settings};
use detour_entra::ApiSettings;
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudDirectorySettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub graph: ApiSettings,
}

impl Settings for CloudDirectorySettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::required("graph.entra.client_secret"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        self.graph.validate("graph", problems);
    }
}

impl ServiceConfig for CloudDirectorySettings {
    const OWN_DEFAULTS: &'static str =
        detour_entra::api_defaults!("graph", "https://graph.microsoft.com");

    detour_service::shared_sections!();
}
