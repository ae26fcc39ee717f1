//! saga-coordinator's settings: the shared sections, `[store]` (where sagas are kept) and
//! `[saga]` (how remediations are run: the tenant's coexistence domain, the parking OU, the
//! temporary licence, approvals, admission and every wait's timing).

use std::time::Duration;

use detour_config::{Problems, Secret, SecretKey, Settings};
use detour_contracts::Dn;
use detour_service::{ServiceConfig, ShutdownSettings};
use serde::Deserialize;
use uuid::Uuid;

use crate::saga::{Budgets, Policy, Strategy, Timing, admission::CONNECT_DELETION_THRESHOLD};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinatorSettings {
    pub amqp: detour_bus::AmqpSettings,
    pub telemetry: detour_telemetry::TelemetrySettings,
    pub http: detour_service::HttpSettings,
    pub shutdown: ShutdownSettings,
    pub store: StoreSettings,
    pub saga: SagaSettings,
    pub api: ApiSettings,
}

/// The operator API's bearer token. Without one the API is open, which is only allowed
/// while the ops port listens on loopback.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Or `token_file`.
    #[serde(default)]
    pub token: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite://path/file.db` (created if missing) or `postgres://user@host/db`; or
    /// `url_file`, since a PostgreSQL URL carries its password.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaSettings {
    /// The hybrid coexistence domain, e.g. `contoso.mail.onmicrosoft.com`.
    pub coexistence_domain: String,
    /// The OU outside Connect's scope where users are parked during a round trip.
    pub parking_ou: String,
    /// Set if Connect syncs the parking OU by rules it does not report: every round trip is
    /// then refused. (A parking OU inside the containers Connect reports is refused anyway.)
    pub parking_ou_in_scope: bool,
    /// The SKU assigned directly while the user's group licence is gone.
    pub temporary_sku: String,
    /// The usage location (ISO 3166 alpha-2) given with the temporary licence to a user who
    /// has none; empty: such users are refused.
    pub default_usage_location: String,
    /// The rungs allowed, in the order preferred; e.g. drop `cloud-managed` where the cloud
    /// must never own a mailbox's Exchange attributes.
    pub strategies: Vec<Strategy>,
    /// After the user-cloud-managed rung, hand the user back to AD the way Microsoft
    /// documents (the takeover block lifted for the cycle, then restored); `false` leaves the
    /// fixed user cloud-managed.
    pub return_user_to_ad: bool,
    /// After the cloud-managed rung, set the mailbox's Exchange attributes back to AD
    /// (`-IsExchangeCloudManaged $false`) and check after a sync that the address stayed;
    /// `false` (the default) leaves them cloud-managed, as Microsoft's model intends.
    pub return_mailbox_to_ad: bool,
    /// Hold every saga before its first write until an operator approves its plan.
    pub approval_required: bool,
    /// At most this many users out of sync scope at once.
    pub max_descoped: usize,
    /// At most this many remediations diagnosing (reading) at once.
    pub max_diagnosing: usize,
    pub action_deadline_ms: u64,
    pub poll_every_ms: u64,
    pub wait_deadline_ms: u64,
    pub compensation_attempts: u32,
    pub compensation_backoff_ms: u64,
    /// How often due timers are looked for.
    pub timer_tick_ms: u64,
}

pub const OWN_DEFAULTS: &str = r#"
[api]

[store]
url = "sqlite://data/saga-coordinator.db"

[saga]
coexistence_domain = ""
parking_ou = ""
parking_ou_in_scope = false
temporary_sku = ""
default_usage_location = ""
strategies = ["on-premises-stamp", "cloud-managed", "user-cloud-managed", "round-trip"]
return_user_to_ad = true
return_mailbox_to_ad = false
approval_required = false
max_descoped = 400
max_diagnosing = 64
action_deadline_ms = 300000
poll_every_ms = 30000
wait_deadline_ms = 3600000
compensation_attempts = 5
compensation_backoff_ms = 30000
timer_tick_ms = 1000
"#;

impl SagaSettings {
    pub fn budgets(&self) -> Budgets {
        Budgets {
            max_descoped: self.max_descoped,
            max_diagnosing: self.max_diagnosing,
        }
    }

    /// The policy the pure core follows; what validation refuses is an error here too.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        Ok(Policy {
            coexistence_domain: self.coexistence_domain.trim().to_ascii_lowercase(),
            parking_ou: Dn::parse(self.parking_ou.trim())
                .map_err(|error| anyhow::anyhow!("saga.parking_ou: {error}"))?,
            parking_ou_in_scope: self.parking_ou_in_scope,
            temporary_sku: self
                .temporary_sku
                .trim()
                .parse()
                .map_err(|error| anyhow::anyhow!("saga.temporary_sku: {error}"))?,
            default_usage_location: Some(self.default_usage_location.trim().to_ascii_uppercase())
                .filter(|l| !l.is_empty()),
            strategies: self.strategies.clone(),
            return_user_to_ad: self.return_user_to_ad,
            return_mailbox_to_ad: self.return_mailbox_to_ad,
            approval_required: self.approval_required,
            timing: Timing {
                action_deadline: Duration::from_millis(self.action_deadline_ms),
                poll_every: Duration::from_millis(self.poll_every_ms),
                wait_deadline: Duration::from_millis(self.wait_deadline_ms),
                compensation_attempts: self.compensation_attempts,
                compensation_backoff: Duration::from_millis(self.compensation_backoff_ms),
            },
        })
    }

    pub fn timer_tick(&self) -> Duration {
        Duration::from_millis(self.timer_tick_ms)
    }
}

impl Settings for CoordinatorSettings {
    const LIST_KEYS: &'static [&'static str] = &["amqp.retry_delays_ms", "saga.strategies"];
    const SECRETS: &'static [SecretKey] = &[
        detour_bus::AmqpSettings::PASSWORD,
        SecretKey::optional("api.token"),
        SecretKey::optional("store.url"),
    ];

    fn validate(&self, problems: &mut Problems) {
        self.base().validate(problems);
        problems.check(
            self.api.token.is_some() || self.http.listen.ip().is_loopback(),
            "api.token",
            "the operator API would be open to the network: set api.token or \
             api.token_file, or listen on 127.0.0.1",
        );
        let store = &self.store.url;
        problems.check(
            store.starts_with("sqlite:") || store.starts_with("postgres"),
            "store.url",
            "must be sqlite://FILE or postgres://...",
        );
        let saga = &self.saga;
        problems.check(
            !saga.strategies.is_empty(),
            "saga.strategies",
            "allow at least one of on-premises-stamp, cloud-managed, round-trip",
        );
        let mut seen = std::collections::HashSet::new();
        problems.check(
            saga.strategies.iter().all(|s| seen.insert(*s)),
            "saga.strategies",
            "names a strategy twice",
        );
        problems.check(
            saga.coexistence_domain
                .trim()
                .ends_with(".mail.onmicrosoft.com"),
            "saga.coexistence_domain",
            "must be the tenant's <name>.mail.onmicrosoft.com",
        );
        let parking = saga.parking_ou.trim().to_ascii_uppercase();
        problems.check(
            Dn::parse(&parking).is_ok()
                && (parking.starts_with("OU=") || parking.starts_with("CN="))
                && parking.contains("DC="),
            "saga.parking_ou",
            "must be the DN of an OU or container outside Connect's scope, e.g. \
             OU=Parked,DC=corp,DC=example or CN=Users,DC=corp,DC=example",
        );
        problems.check(
            saga.temporary_sku.trim().parse::<Uuid>().is_ok(),
            "saga.temporary_sku",
            "must be the skuId (a GUID) of the licence to assign while the group's is gone",
        );
        let location = saga.default_usage_location.trim();
        problems.check(
            location.is_empty()
                || (location.len() == 2 && location.chars().all(|c| c.is_ascii_alphabetic())),
            "saga.default_usage_location",
            "must be empty or a two-letter country code, e.g. US",
        );
        problems.check(
            (1..CONNECT_DELETION_THRESHOLD).contains(&saga.max_descoped),
            "saga.max_descoped",
            "must be between 1 and 499, below Connect's deletion threshold of 500",
        );
        problems.check(
            (1..=10_000).contains(&saga.max_diagnosing),
            "saga.max_diagnosing",
            "must be between 1 and 10000",
        );
        for (key, value) in [
            ("saga.action_deadline_ms", saga.action_deadline_ms),
            ("saga.poll_every_ms", saga.poll_every_ms),
            ("saga.wait_deadline_ms", saga.wait_deadline_ms),
            ("saga.compensation_backoff_ms", saga.compensation_backoff_ms),
            ("saga.timer_tick_ms", saga.timer_tick_ms),
        ] {
            problems.check(value > 0, key, "must be positive");
        }
        problems.check(
            saga.compensation_attempts > 0,
            "saga.compensation_attempts",
            "must be at least 1",
        );
    }
}

impl ServiceConfig for CoordinatorSettings {
    const OWN_DEFAULTS: &'static str = OWN_DEFAULTS;
    /// Answers are short store round trips: more in hand keeps PostgreSQL busy.
    const DEFAULT_CONCURRENCY: u16 = 16;

    detour_service::shared_sections!();
}

#[cfg(test)]
mod tests {
    use detour_config::Sources;
    use detour_service::load_config;

    use super::*;

    fn load(extra: &[(&str, &str)]) -> Result<CoordinatorSettings, String> {
        let mut pairs = vec![
            (
                "DETOUR__SAGA__COEXISTENCE_DOMAIN",
                "contoso.mail.onmicrosoft.com",
            ),
            ("DETOUR__SAGA__PARKING_OU", "OU=Parked,DC=corp,DC=example"),
            (
                "DETOUR__SAGA__TEMPORARY_SKU",
                "6fd2c87f-b296-42f0-b197-1e91e994b900",
            ),
        ];
        pairs.extend_from_slice(extra);
        load_config(
            crate::DEFAULT_PORT,
            Sources::from_pairs(String::new(), pairs),
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn durations_may_be_written_with_their_unit() {
        let settings = load(&[
            ("DETOUR__SAGA__POLL_EVERY", "2s"),
            ("DETOUR__SAGA__WAIT_DEADLINE", "15m"),
        ])
        .unwrap();
        let timing = settings.saga.policy().unwrap().timing;
        assert_eq!(timing.poll_every, Duration::from_secs(2));
        assert_eq!(timing.wait_deadline, Duration::from_secs(900));
        let error = load(&[("DETOUR__SAGA__POLL_EVERY", "often")]).unwrap_err();
        assert!(error.contains("saga.poll_every"), "{error}");
    }

    #[test]
    fn the_budgets_default_to_the_figures_the_core_documents() {
        use crate::saga::admission::{DEFAULT_MAX_DESCOPED, DEFAULT_MAX_DIAGNOSING};
        let budgets = load(&[]).unwrap().saga.budgets();
        assert_eq!(
            (budgets.max_descoped, budgets.max_diagnosing),
            (DEFAULT_MAX_DESCOPED, DEFAULT_MAX_DIAGNOSING)
        );
    }

    #[test]
    fn the_operator_api_is_never_open_to_the_network() {
        assert!(load(&[]).is_ok(), "loopback without a token is fine");
        let open = load(&[("DETOUR__HTTP__LISTEN", "0.0.0.0:8085")]).unwrap_err();
        assert!(open.contains("api.token"), "{open}");
        let guarded = load(&[
            ("DETOUR__HTTP__LISTEN", "0.0.0.0:8085"),
            ("DETOUR__API__TOKEN", "s3cret-operator-token"),
        ])
        .unwrap();
        assert_eq!(
            guarded.api.token.as_ref().map(|t| t.expose().to_owned()),
            Some("s3cret-operator-token".to_owned())
        );
        assert!(
            !format!("{guarded:?}").contains("s3cret"),
            "never in Debug output"
        );
    }

    #[test]
    fn the_saga_settings_say_what_is_wrong() {
        let wrong = load(&[
            ("DETOUR__SAGA__COEXISTENCE_DOMAIN", "contoso.com"),
            ("DETOUR__SAGA__MAX_DESCOPED", "600"),
            ("DETOUR__SAGA__DEFAULT_USAGE_LOCATION", "Poland"),
        ])
        .unwrap_err();
        for key in [
            "saga.coexistence_domain",
            "saga.max_descoped",
            "saga.default_usage_location",
        ] {
            assert!(wrong.contains(key), "{key} missing from: {wrong}");
        }
    }
}
