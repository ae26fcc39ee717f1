//! A Microsoft API's section (`[graph]`, `[exchange]`): where the API is, and its `entra`
//! settings: the tenant, the app's credentials, the identity endpoint, and how patient calls
//! are.

use detour_config::{Problems, Secret};
use serde::Deserialize;

/// One Microsoft API a service calls, and the Entra app it calls it as.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// e.g. `https://graph.microsoft.com`, or tenant-sim's base URL.
    pub base_url: String,
    pub entra: EntraSettings,
}

impl ApiSettings {
    pub fn validate(&self, section: &str, problems: &mut Problems) {
        problems.check(
            is_http_url(&self.base_url),
            &format!("{section}.base_url"),
            "must be an http(s) URL",
        );
        self.entra.validate(&format!("{section}.entra"), problems);
    }
}

/// The defaults of an [`ApiSettings`] section named `$section` whose API is at `$base_url`,
/// as TOML for a service's `OWN_DEFAULTS`. The tenant and app stay empty: they must be given.
#[macro_export]
macro_rules! api_defaults {
    ($section:literal, $base_url:literal) => {
        concat!(
            "[",
            $section,
            "]\n",
            "base_url = \"",
            $base_url,
            "\"\n\n",
            "[",
            $section,
            ".entra]\n",
            "tenant = \"\"\n",
            "client_id = \"\"\n",
            "identity_base_url = \"https://login.microsoftonline.com\"\n",
            "max_concurrent_calls = 8\n",
            "max_attempts = 6\n",
            "backoff_ms = 500\n",
            "request_timeout_ms = 30000\n",
        )
    };
}

fn no_secret() -> Secret {
    Secret::new("")
}

fn is_http_url(value: &str) -> bool {
    value.starts_with("https://") || value.starts_with("http://")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraSettings {
    /// The tenant id (a GUID) or a verified domain.
    pub tenant: String,
    pub client_id: String,
    /// Or `client_secret_file`; the service lists `<section>.entra.client_secret` among its
    /// secrets. Blank when not given at all (a service that always needs it lists it as
    /// required, and the loader refuses its absence); `validate` refuses it blank.
    #[serde(default = "no_secret")]
    pub client_secret: Secret,
    /// `https://login.microsoftonline.com`, or tenant-sim's base URL.
    pub identity_base_url: String,
    /// Calls of this tenant in flight at once, across every saga of this instance.
    pub max_concurrent_calls: usize,
    /// Attempts per call (429, 5xx, timeouts, 404 right after our own write) before giving up.
    pub max_attempts: u32,
    /// First backoff step; doubles per attempt, with jitter.
    pub backoff_ms: u64,
    pub request_timeout_ms: u64,
}

impl EntraSettings {
    pub fn validate(&self, section: &str, problems: &mut Problems) {
        problems.check(
            !self.tenant.trim().is_empty(),
            &format!("{section}.tenant"),
            "must not be empty",
        );
        problems.check(
            !self.client_id.trim().is_empty(),
            &format!("{section}.client_id"),
            "must not be empty",
        );
        problems.check(
            !self.client_secret.is_blank(),
            &format!("{section}.client_secret"),
            "is required (or client_secret_file)",
        );
        problems.check(
            is_http_url(&self.identity_base_url),
            &format!("{section}.identity_base_url"),
            "must be an http(s) URL",
        );
        problems.check(
            self.max_concurrent_calls > 0,
            &format!("{section}.max_concurrent_calls"),
            "must be at least 1",
        );
        problems.check(
            self.max_attempts > 0,
            &format!("{section}.max_attempts"),
            "must be at least 1",
        );
        problems.check(
            self.request_timeout_ms > 0,
            &format!("{section}.request_timeout_ms"),
            "must be positive",
        );
    }
}
