//! ticket-gateway's settings: the shared sections, `[webhook]` (limits), and one section per
//! ticket system: `[jira]`, `[servicenow]`, `[generic]`. Each says how its webhooks are
//! authenticated, how a ticket is mapped to a remediation (which field carries the user, what
//! marks a dry run, which state is an approval), and where its REST API is.

use detour_config::{Problems, Secret, SecretKey, Settings};
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub webhook: WebhookSettings,
    pub jira: JiraSettings,
    pub servicenow: ServiceNowSettings,
    pub generic: GenericSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Larger bodies are refused with 413 before they are read whole.
    pub max_body_bytes: usize,
    /// Where delivery ids are kept to drop redeliveries: a SQLite file, or PostgreSQL shared
    /// by replicas (or `deliveries_url_file`, since a PostgreSQL URL carries its password).
    pub deliveries_url: String,
    /// Deliveries whose body says they are older than this are refused (a replay), and ids
    /// are kept this long.
    pub replay_window_s: u64,
}

impl WebhookSettings {
    pub fn replay_window(&self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.replay_window_s).unwrap_or(i64::MAX))
    }
}

/// Which tickets are remediation requests, and where their user is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Fields holding the affected user's UPN, tried in order (a string, or an object with
    /// `emailAddress`, `name` or `value`); then a label (below); then the first UPN in the
    /// summary and description.
    pub user_fields: Vec<String>,
    /// A label starting with this names the user too (e.g. `user:ada@contoso.com`); empty:
    /// labels never do.
    pub user_label_prefix: String,
    /// A ticket with any of these labels is a remediation request...
    pub match_labels: Vec<String>,
    /// ...and so is one whose summary or description holds any of these (case-insensitive).
    /// With both lists empty, every ticket is.
    pub match_text: Vec<String>,
    /// Jira: a label, ServiceNow: a field that is `true`: diagnose only, change nothing.
    pub dry_run_marker: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JiraSettings {
    pub enabled: bool,
    /// The site, e.g. `https://acme.atlassian.net`.
    pub base_url: String,
    /// REST API version for writes: 2 (plain-text comments) or 3 (Atlassian Document Format).
    pub api_version: u8,
    pub email: String,
    /// Or `api_token_file`; needed while the section is enabled.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// The webhook's secret: Jira signs each body with HMAC-SHA256 in `X-Hub-Signature`.
    /// Or `webhook_secret_file`; needed while the section is enabled.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    pub mapping: Mapping,
    /// The status that approves the plan waiting on the ticket.
    pub approval_status: String,
    /// Transitions (by name or target status) taken when work starts, on success, and on
    /// `needs-attention`; empty: none.
    pub start_transition: String,
    pub resolve_transition: String,
    pub escalate_transition: String,
    pub request_timeout_ms: u64,
    pub max_attempts: u32,
    pub backoff_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowSettings {
    pub enabled: bool,
    /// The instance, e.g. `https://acme.service-now.com`.
    pub base_url: String,
    pub user: String,
    /// Or `password_file`; needed while the section is enabled.
    #[serde(default)]
    pub password: Option<Secret>,
    /// The outbound REST message's shared token, sent in `token_header`.
    /// Or `webhook_token_file`; needed while the section is enabled.
    #[serde(default)]
    pub webhook_token: Option<Secret>,
    pub token_header: String,
    pub mapping: Mapping,
    /// The field and value that approve the plan waiting on the incident.
    pub approval_field: String,
    pub approval_value: String,
    /// Incident states: on success (with `close_code`), and on `needs-attention`.
    pub resolved_state: String,
    pub close_code: String,
    pub escalated_state: String,
    pub request_timeout_ms: u64,
    pub max_attempts: u32,
    pub backoff_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericSettings {
    pub enabled: bool,
    /// Callers send `Authorization: Bearer <token>`.
    /// Or `token_file`; needed while the section is enabled.
    #[serde(default)]
    pub token: Option<Secret>,
}

pub const OWN_DEFAULTS: &str = r#"
[webhook]
max_body_bytes = 262144
deliveries_url = "sqlite://data/ticket-gateway.db"
# A day: longer than any source retries a delivery.
replay_window_s = 86400

[jira]
enabled = false
base_url = ""
api_version = 2
email = ""
approval_status = "Approved"
start_transition = "In Progress"
resolve_transition = "Resolved"
escalate_transition = "Escalated"
request_timeout_ms = 10000
max_attempts = 5
backoff_ms = 500

[jira.mapping]
user_fields = []
user_label_prefix = "user:"
match_labels = ["detour"]
match_text = ["onmicrosoft.com"]
dry_run_marker = "detour-dry-run"

[servicenow]
enabled = false
base_url = ""
user = ""
token_header = "x-detour-token"
approval_field = "approval"
approval_value = "approved"
resolved_state = "6"
close_code = "Solved (Permanently)"
escalated_state = "3"
request_timeout_ms = 10000
max_attempts = 5
backoff_ms = 500

[servicenow.mapping]
user_fields = ["u_affected_user", "caller_id"]
user_label_prefix = ""
match_labels = []
match_text = ["onmicrosoft.com"]
dry_run_marker = "u_detour_dry_run"

[generic]
enabled = false
"#;

/// A secret an enabled section needs: there, or an error naming the key (validation has
/// already refused settings without it).
fn needed(key: &str, secret: Option<&Secret>) -> anyhow::Result<Secret> {
    secret
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{key}: give {key} or {key}_file"))
}

/// Records a problem when an enabled section lacks `key`.
fn require(key: &str, secret: Option<&Secret>, problems: &mut Problems) {
    problems.check(
        secret.is_some(),
        key,
        format!("give {key} or {key}_file: the section is enabled"),
    );
}

impl JiraSettings {
    pub fn api_token(&self) -> anyhow::Result<Secret> {
        needed("jira.api_token", self.api_token.as_ref())
    }

    pub fn webhook_secret(&self) -> anyhow::Result<Secret> {
        needed("jira.webhook_secret", self.webhook_secret.as_ref())
    }
}

impl ServiceNowSettings {
    pub fn password(&self) -> anyhow::Result<Secret> {
        needed("servicenow.password", self.password.as_ref())
    }

    pub fn webhook_token(&self) -> anyhow::Result<Secret> {
        needed("servicenow.webhook_token", self.webhook_token.as_ref())
    }
}

impl GenericSettings {
    pub fn token(&self) -> anyhow::Result<Secret> {
        needed("generic.token", self.token.as_ref())
    }
}

fn check_rest(
    section: &str,
    base_url: &str,
    timeout_ms: u64,
    max_attempts: u32,
    problems: &mut Problems,
) {
    problems.check(
        base_url.starts_with("https://") || base_url.starts_with("http://"),
        &format!("{section}.base_url"),
        "must be an http(s):// URL",
    );
    problems.check(
        timeout_ms > 0,
        &format!("{section}.request_timeout_ms"),
        "must be positive",
    );
    problems.check(
        max_attempts > 0,
        &format!("{section}.max_attempts"),
        "must be at least 1",
    );
}

impl Settings for GatewaySettings {
    const LIST_KEYS: &'static [&'static str] = &[
        "amqp.retry_delays_ms",
        "jira.mapping.user_fields",
        "jira.mapping.match_labels",
        "jira.mapping.match_text",
        "servicenow.mapping.user_fields",
        "servicenow.mapping.match_labels",
        "servicenow.mapping.match_text",
    ];
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::optional("webhook.deliveries_url"),
        SecretKey::optional("jira.api_token"),
        SecretKey::optional("jira.webhook_secret"),
        SecretKey::optional("servicenow.password"),
        SecretKey::optional("servicenow.webhook_token"),
        SecretKey::optional("generic.token"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        problems.check(
            self.webhook.max_body_bytes >= 1024,
            "webhook.max_body_bytes",
            "must be at least 1024",
        );
        problems.check(
            (60..=30 * 86400).contains(&self.webhook.replay_window_s),
            "webhook.replay_window_s",
            "must be between 60 (a minute) and 2592000 (30 days)",
        );
        problems.check(
            self.webhook.deliveries_url.starts_with("sqlite:")
                || self.webhook.deliveries_url.starts_with("postgres"),
            "webhook.deliveries_url",
            "must be a sqlite:// or postgres:// URL",
        );
        problems.check(
            self.jira.enabled || self.servicenow.enabled || self.generic.enabled,
            "jira.enabled",
            "no ticket system is enabled: enable jira, servicenow or generic",
        );
        let jira = &self.jira;
        if jira.enabled {
            check_rest(
                "jira",
                &jira.base_url,
                jira.request_timeout_ms,
                jira.max_attempts,
                problems,
            );
            problems.check(
                matches!(jira.api_version, 2 | 3),
                "jira.api_version",
                "must be 2 or 3",
            );
            problems.check(!jira.email.trim().is_empty(), "jira.email", "is required");
            require("jira.api_token", jira.api_token.as_ref(), problems);
            require(
                "jira.webhook_secret",
                jira.webhook_secret.as_ref(),
                problems,
            );
        }
        let servicenow = &self.servicenow;
        if servicenow.enabled {
            check_rest(
                "servicenow",
                &servicenow.base_url,
                servicenow.request_timeout_ms,
                servicenow.max_attempts,
                problems,
            );
            problems.check(
                !servicenow.user.trim().is_empty(),
                "servicenow.user",
                "is required",
            );
            problems.check(
                axum::http::HeaderName::from_bytes(servicenow.token_header.as_bytes()).is_ok(),
                "servicenow.token_header",
                "is not a valid header name",
            );
            require(
                "servicenow.password",
                servicenow.password.as_ref(),
                problems,
            );
            require(
                "servicenow.webhook_token",
                servicenow.webhook_token.as_ref(),
                problems,
            );
        }
        if self.generic.enabled {
            require("generic.token", self.generic.token.as_ref(), problems);
        }
    }
}

impl ServiceConfig for GatewaySettings {
    const OWN_DEFAULTS: &'static str = OWN_DEFAULTS;
    /// One delivery at a time, so a ticket's comments land in the order of its milestones.
    const DEFAULT_CONCURRENCY: u16 = 1;

    detour_service::shared_sections!();
}

#[cfg(test)]
mod tests {
    use detour_config::Sources;
    use detour_service::load_config;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<GatewaySettings, String> {
        load_config(
            crate::DEFAULT_PORT,
            Sources::from_pairs(String::new(), pairs.iter().copied()),
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn nothing_enabled_is_a_mistake_worth_saying() {
        let error = load(&[]).unwrap_err();
        assert!(error.contains("no ticket system is enabled"), "{error}");
    }

    #[test]
    fn an_enabled_system_needs_its_url_and_secrets() {
        let error = load(&[("DETOUR__JIRA__ENABLED", "true")]).unwrap_err();
        for key in [
            "jira.base_url",
            "jira.email",
            "jira.api_token",
            "jira.webhook_secret",
        ] {
            assert!(error.contains(key), "{key} in {error}");
        }
    }

    #[test]
    fn secrets_load_and_never_show() {
        let settings = load(&[
            ("DETOUR__JIRA__ENABLED", "true"),
            ("DETOUR__JIRA__BASE_URL", "http://127.0.0.1:9"),
            ("DETOUR__JIRA__EMAIL", "detour@contoso.com"),
            ("DETOUR__JIRA__API_TOKEN", "jira-api-s3cret"),
            ("DETOUR__JIRA__WEBHOOK_SECRET", "hook-s3cret"),
            (
                "DETOUR__JIRA__MAPPING__USER_FIELDS",
                "customfield_10050,customfield_10051",
            ),
        ])
        .unwrap();
        assert_eq!(
            settings.jira.webhook_secret().unwrap().expose(),
            "hook-s3cret"
        );
        assert_eq!(
            settings.jira.mapping.user_fields,
            ["customfield_10050", "customfield_10051"]
        );
        assert!(!format!("{settings:?}").contains("s3cret"));
    }
}
