//! The bulk benchmark's parts: a crowd of users who all lack their coexistence address in one
//! tenant (tenant-sim over the real Samba AD), the five services that remediate them as real
//! processes, a watch over the run (saga counts, users out of scope, memory), and the check,
//! from the tenant's own state, that every user ended fixed.

use std::{collections::BTreeMap, path::Path, time::Duration};

use anyhow::Context;
use detour_contracts::Service;
use detour_testkit::{Stack, TestVhost};
use serde_json::{Value, json};
use tenant_sim::fixture::{E3, TenantFixture};

use crate::fleet::Launch;

/// How the tenant is paced: real Connect cycles take minutes, these are shortened.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub cycle_seconds: f64,
    pub mailbox_seconds: f64,
}

pub fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("b{i:04}")).collect()
}

/// A tenant of `count` group-licensed users in scope, none with its coexistence address.
pub async fn crowd(count: usize, pace: Pace) -> TenantFixture {
    crowd_with(count, pace, |_| {}).await
}

/// [`crowd`], with `customize` applied to the scenario last (tickets, say).
pub async fn crowd_with(
    count: usize,
    pace: Pace,
    customize: impl FnOnce(&mut Value),
) -> TenantFixture {
    let names = names(count);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    TenantFixture::start("bulk", &refs, |scenario| {
        scenario["skus"][0]["prepaid_units"] = json!(count * 2 + 10);
        scenario["delays"]["cycle_seconds"] = json!(pace.cycle_seconds);
        scenario["delays"]["mailbox_reconnect_seconds"] = json!(pace.mailbox_seconds);
        customize(scenario);
    })
    .await
}

/// The step services and the coordinator for `tenant`, on `vhost`, with the store at `store`.
pub fn launches(
    tenant: &TenantFixture,
    vhost: &TestVhost,
    store: &Path,
    max_descoped: usize,
) -> anyhow::Result<Vec<Launch>> {
    let port = vhost.port.to_string();
    let shared: Vec<(String, String)> = [
        ("DETOUR__AMQP__HOST", vhost.host.as_str()),
        ("DETOUR__AMQP__PORT", port.as_str()),
        ("DETOUR__AMQP__USERNAME", vhost.username.as_str()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.as_str()),
        ("DETOUR__AMQP__VHOST", vhost.name.as_str()),
        ("DETOUR__TELEMETRY__LOG_FILTER", "warn"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut ldap = Stack::load()?.ldap_service_env()?;
    ldap.retain(|(k, _)| k != "DETOUR__LDAP__SEARCH_BASE");
    ldap.push(("DETOUR__LDAP__SEARCH_BASE".into(), tenant.ou.dn.clone()));
    let pairs = |items: &[(&str, String)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    let own: [(Service, Vec<(String, String)>); 5] = [
        (Service::AdOps, ldap),
        (
            Service::SyncTrigger,
            pairs(&[
                ("DETOUR__CONNECT__BASE_URL", tenant.base.clone()),
                ("DETOUR__CONNECT__AGENT_KEY", tenant.agent_key.clone()),
                ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "30000".into()),
                ("DETOUR__CONNECT__COALESCE_QUIET_MS", "2000".into()),
                ("DETOUR__CONNECT__POLL_INTERVAL_MS", "250".into()),
                ("DETOUR__CONNECT__BUSY_RETRY_MS", "250".into()),
            ]),
        ),
        (Service::CloudDirectory, tenant.entra_env("GRAPH")),
        (Service::MailboxOps, tenant.entra_env("EXCHANGE")),
        (
            Service::SagaCoordinator,
            pairs(&[
                (
                    "DETOUR__STORE__URL",
                    format!("sqlite://{}", store.display()),
                ),
                (
                    "DETOUR__SAGA__COEXISTENCE_DOMAIN",
                    "contoso.mail.onmicrosoft.com".into(),
                ),
                ("DETOUR__SAGA__PARKING_OU", tenant.parked()),
                ("DETOUR__SAGA__TEMPORARY_SKU", E3.into()),
                ("DETOUR__SAGA__DEFAULT_USAGE_LOCATION", "PL".into()),
                ("DETOUR__SAGA__MAX_DESCOPED", max_descoped.to_string()),
                ("DETOUR__SAGA__ACTION_DEADLINE_MS", "300000".into()),
                ("DETOUR__SAGA__WAIT_DEADLINE_MS", "300000".into()),
                ("DETOUR__SAGA__POLL_EVERY_MS", "500".into()),
                ("DETOUR__SAGA__TIMER_TICK_MS", "100".into()),
            ]),
        ),
    ];
    Ok(own
        .into_iter()
        .map(|(service, env)| {
            let mut all = shared.clone();
            all.extend(env);
            Launch {
                service,
                port: crate::services::default_port(service),
                env: all,
            }
        })
        .collect())
}

/// A process's resident memory now, in MiB (0 once it is gone).
pub fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib / 1024)
}

/// A process's CPU time so far (user and system), in seconds (0 once it is gone).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => 0.0,
    }
}

/// How many users are in the parking OU now, read from the real directory.
pub async fn out_of_scope(tenant: &TenantFixture) -> anyhow::Result<usize> {
    let mut ldap = tenant.directory.bind_service_account().await?;
    let (entries, _) = ldap
        .search(
            &tenant.parked(),
            ldap3::Scope::OneLevel,
            "(objectClass=user)",
            vec!["1.1"],
        )
        .await?
        .success()?;
    ldap.unbind().await?;
    Ok(entries.len())
}

/// The coordinator's operator API.
#[derive(Debug, Clone)]
pub struct Operator {
    pub client: reqwest::Client,
    pub api: String,
}

impl Operator {
    pub async fn start(&self, user: &str) -> anyhow::Result<()> {
        let response = self
            .client
            .post(format!("{}/sagas", self.api))
            .json(&json!({ "user": user }))
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(
            status.as_u16() == 201,
            "{status}: {}",
            response.text().await?
        );
        Ok(())
    }

    /// Remediations per status.
    pub async fn counts(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let counts = self
            .client
            .get(format!("{}/counts", self.api))
            .send()
            .await?
            .json()
            .await?;
        Ok(counts)
    }
}

/// Statuses after which nothing more happens without a person.
pub const SETTLED: [&str; 8] = [
    "completed",
    "compensated",
    "needs-attention",
    "resolved",
    "refused",
    "undiagnosable",
    "nothing-to-do",
    "planned",
];

/// Requests and 429s per API, as tenant-sim counted them.
pub async fn traffic(tenant: &TenantFixture) -> anyhow::Result<Value> {
    tenant.sim_read("/_sim/traffic").await
}

/// tenant-sim's whole world, as its admin API dumps it.
pub async fn world(tenant: &TenantFixture) -> anyhow::Result<Value> {
    tenant.sim_read("/_sim/world").await
}

/// Whether the tenant's `blockCloudObjectTakeoverThroughHardMatchEnabled` is set now.
pub async fn takeover_blocked(tenant: &TenantFixture) -> anyhow::Result<bool> {
    world(tenant).await?["features"]["block_cloud_object_takeover_through_hard_match_enabled"]
        .as_bool()
        .context("the world dump has no takeover block")
}

/// The tenant's cloud users by UPN (lower case), from its world dump. A UPN held by two
/// objects maps to both.
pub async fn cloud_users(tenant: &TenantFixture) -> anyhow::Result<BTreeMap<String, Vec<Value>>> {
    let world = world(tenant).await?;
    let users = world["users"]
        .as_object()
        .context("the world dump has no users")?;
    let mut by_upn: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for user in users.values() {
        let upn = user["user_principal_name"].as_str().unwrap_or_default();
        by_upn
            .entry(upn.to_ascii_lowercase())
            .or_default()
            .push(user.clone());
    }
    Ok(by_upn)
}

/// What tenant-sim counted as done to each cloud user, by object id: soft deletions,
/// restores, direct licences added and removed.
pub async fn effects(tenant: &TenantFixture) -> anyhow::Result<serde_json::Map<String, Value>> {
    let world = world(tenant).await?;
    Ok(world["effects"].as_object().cloned().unwrap_or_default())
}

/// Which users are fixed, judged from the tenant's state alone: one live cloud user with the
/// same object id, synced, the same anchor, the address present, and no direct licence (the
/// group's only). `before` is every user's cloud object before the run, by name.
pub async fn fixed_users(
    tenant: &TenantFixture,
    before: &BTreeMap<String, Value>,
) -> anyhow::Result<Vec<String>> {
    let now = cloud_users(tenant).await?;
    let mut fixed = Vec::new();
    for (name, was) in before {
        let Some([user]) = now
            .get(&tenant.upn(name).to_ascii_lowercase())
            .map(Vec::as_slice)
        else {
            continue;
        };
        let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam(name));
        let has_address = ["cloud_addresses", "on_premises_proxy_addresses"]
            .iter()
            .flat_map(|field| user[*field].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .any(|a| {
                a.split_once(':')
                    .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&address))
            });
        let ok = user["id"] == was["id"]
            && user["on_premises_sync_enabled"] == true
            && user["on_premises_immutable_id"] == was["on_premises_immutable_id"]
            && has_address
            && user["direct_licenses"].as_array().is_none_or(Vec::is_empty);
        if ok {
            fixed.push(name.clone());
        }
    }
    Ok(fixed)
}

/// Every user's cloud object before the run, by name.
pub async fn snapshot(
    tenant: &TenantFixture,
    names: &[String],
) -> anyhow::Result<BTreeMap<String, Value>> {
    let users = cloud_users(tenant).await?;
    names
        .iter()
        .map(|name| {
            let user = users
                .get(&tenant.upn(name).to_ascii_lowercase())
                .and_then(|found| found.first())
                .with_context(|| format!("{name} has no cloud user"))?;
            Ok((name.clone(), user.clone()))
        })
        .collect()
}

/// How long to wait between progress lines.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);
