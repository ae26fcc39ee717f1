//! ad-ops's settings: the shared sections, and `[ldap]`: where the DC is, how to trust it, who
//! to bind as, where users live and which attribute Connect filters on.

use std::path::PathBuf;

use detour_config::{Problems, Secret, SecretKey, Settings};
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdOpsSettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub ldap: LdapSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapSettings {
    /// `ldaps://dc:636`, or `ldap://dc:389` with StartTLS. Never unencrypted.
    pub url: String,
    /// The CA that signed the DC's certificate; the certificate is always verified.
    pub ca_file: PathBuf,
    pub bind_dn: String,
    /// Or `bind_password_file`.
    pub bind_password: Secret,
    /// Where users are searched (the domain root, usually).
    pub search_base: String,
    /// The attribute Connect's attribute filter reads [S20].
    pub filter_attribute: String,
    pub operation_timeout_ms: u64,
}

impl Settings for AdOpsSettings {
    const LIST_KEYS: &'static [&'static str] = detour_bus::AmqpSettings::LIST_KEYS;
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::required("ldap.bind_password"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        let ldap = &self.ldap;
        problems.check(
            ldap.url.starts_with("ldaps://") || ldap.url.starts_with("ldap://"),
            "ldap.url",
            "must be an ldaps:// URL (or ldap:// for StartTLS)",
        );
        problems.check(
            ldap.ca_file.is_file(),
            "ldap.ca_file",
            format!("{} is not a readable file", ldap.ca_file.display()),
        );
        problems.check(
            !ldap.bind_dn.is_empty(),
            "ldap.bind_dn",
            "must not be empty",
        );
        problems.check(
            detour_contracts::Dn::parse(&ldap.search_base).is_ok(),
            "ldap.search_base",
            "is not a DN",
        );
        problems.check(
            ldap.operation_timeout_ms > 0,
            "ldap.operation_timeout_ms",
            "must be positive",
        );
    }
}

impl ServiceConfig for AdOpsSettings {
    const OWN_DEFAULTS: &'static str = r#"
[ldap]
url = "ldaps://127.0.0.1:636"
ca_file = "target/dev-stack/samba/private/tls/ca.pem"
bind_dn = "CN=svc-detour,OU=Service Accounts,OU=Corp,DC=corp,DC=example,DC=com"
search_base = "DC=corp,DC=example,DC=com"
filter_attribute = "adminDescription"
operation_timeout_ms = 10000
"#;

    detour_service::shared_sections!();
}

#[cfg(test)]
mod tests {
    use detour_config::Sources;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<AdOpsSettings, String> {
        let ca = std::env::temp_dir().join("detour-ad-ops-settings-ca.pem");
        std::fs::write(&ca, "not checked here").map_err(|e| e.to_string())?;
        let ca = ca.display().to_string();
        let mut all = vec![("DETOUR__LDAP__CA_FILE", ca.as_str())];
        all.extend_from_slice(pairs);
        detour_service::load_config::<AdOpsSettings>(8081, Sources::from_pairs(String::new(), all))
            .map_err(|error| error.to_string())
    }

    #[test]
    fn the_bind_password_may_be_given_inline_but_never_blank_or_missing() {
        let inline = load(&[("DETOUR__LDAP__BIND_PASSWORD", "s3cret")]).unwrap();
        assert_eq!(inline.ldap.bind_password.expose(), "s3cret");
        for blank in ["", "   "] {
            let error = load(&[("DETOUR__LDAP__BIND_PASSWORD", blank)]).unwrap_err();
            assert!(error.contains("ldap.bind_password"), "{error}");
        }
        let none = load(&[]).unwrap_err();
        assert!(none.contains("ldap.bind_password"), "{none}");
    }
}
