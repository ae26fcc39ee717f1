//! tenant-sim's settings: where it listens, the directory its sync engine reads, telemetry.

use std::net::SocketAddr;

use detour_config::{Problems, SecretKey, Settings};
use detour_telemetry::TelemetrySettings;
use serde::Deserialize;

use crate::ad::AdSettings;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSettings {
    pub http: HttpSettings,
    pub ad: AdSettings,
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: SocketAddr,
}

impl Settings for SimSettings {
    const SECRETS: &'static [SecretKey] = &[SecretKey::required("ad.bind_password")];

    fn validate(&self, problems: &mut Problems) {
        self.ad.validate(problems);
        self.telemetry.validate(problems);
    }
}

pub const DEFAULTS: &str = r#"
[http]
listen = "127.0.0.1:8090"

[ad]
url = "ldaps://127.0.0.1:636"
ca_file = "target/dev-stack/samba/private/tls/ca.pem"
bind_dn = "Administrator@corp.example.com"
bind_password_file = "target/dev-stack/secrets/admin-password.nonl"
search_base = "DC=corp,DC=example,DC=com"

[telemetry]
otlp_endpoint = ""
log_filter = "info"
log_format = "pretty"
"#;
