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
    /// Where to serve the same APIs over HTTPS too (empty: not at all), for clients that
    /// refuse a plain-HTTP authority (MSAL, azure-identity).
    pub tls_listen: String,
    /// The certificate chain and private key (PEM) for `tls_listen`.
    pub tls_cert_file: String,
    pub tls_key_file: String,
}

impl HttpSettings {
    /// The HTTPS address, when one is set.
    pub fn tls_addr(&self) -> Option<Result<SocketAddr, std::net::AddrParseError>> {
        let listen = self.tls_listen.trim();
        (!listen.is_empty()).then(|| listen.parse())
    }
}

impl Settings for SimSettings {
    const SECRETS: &'static [SecretKey] = &[SecretKey::required("ad.bind_password")];

    fn validate(&self, problems: &mut Problems) {
        if let Some(addr) = self.http.tls_addr() {
            problems.check(
                addr.is_ok(),
                "http.tls_listen",
                "is not an address such as 127.0.0.1:8443",
            );
            for (key, file) in [
                ("http.tls_cert_file", &self.http.tls_cert_file),
                ("http.tls_key_file", &self.http.tls_key_file),
            ] {
                problems.check(
                    !file.trim().is_empty(),
                    key,
                    "is needed with http.tls_listen",
                );
            }
        }
        self.ad.validate(problems);
        self.telemetry.validate(problems);
    }
}

pub const DEFAULTS: &str = r#"
[http]
listen = "127.0.0.1:8090"
tls_listen = ""
tls_cert_file = ""
tls_key_file = ""

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
