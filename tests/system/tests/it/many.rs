//! Many remediations at once in one tenant, on the real stack: every user ends fixed and none
//! is rolled back, the cycles are shared, never more users are out of scope than
//! `max_descoped`, and it holds while Connect's own scheduler runs cycles and when sync-trigger
//! is killed in the middle of a shared cycle.

use std::{collections::BTreeMap, path::PathBuf, process::Stdio, time::Duration};

use detour_contracts::Service;
use detour_testkit::eventually;
use serde_json::{Value, json};
use tenant_sim::fixture::TenantFixture;
use tokio::process::{Child, Command};

use crate::{
    coordinator::{Detour, assert_fixed, cloud_user, timeline},
    procedure::step_services,
};

fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("m{i:02}")).collect()
}

/// A tenant with `count` group-licensed users in scope, none with its coexistence address,
/// seats to spare, and `customize` applied.
async fn crowd(prefix: &str, count: usize, customize: impl FnOnce(&mut Value)) -> TenantFixture {
    let names = names(count);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    TenantFixture::start(prefix, &refs, |scenario| {
        scenario["skus"][0]["prepaid_units"] = json!(count * 2 + 10);
        customize(scenario);
    })
    .await
}

/// What the crowd looked like before, and the runs Connect had already made.
struct Before {
    users: BTreeMap<String, Value>,
    runs: usize,
}

async fn before(tenant: &TenantFixture, count: usize) -> Before {
    let mut users = BTreeMap::new();
    for name in names(count) {
        users.insert(name.clone(), cloud_user(tenant, &tenant.upn(&name)).await);
    }
    Before {
        users,
        runs: tenant.runs().await.len(),
    }
}

/// Starts a saga per user at once through the operator API; returns their ids.
async fn start_all(detour: &Detour, tenant: &TenantFixture, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names(count) {
        let (status, reply) = detour
            .post("/sagas", json!({ "user": tenant.upn(&name) }))
            .await;
        assert_eq!(status, 201, "{reply}");
        ids.push(reply["saga_id"].as_str().unwrap().to_owned());
    }
    ids
}

/// How many users are in the parking OU right now, read from the real directory.
async fn parked(tenant: &TenantFixture) -> usize {
    detour_system::bulk::out_of_scope(tenant).await.unwrap()
}

/// Waits for every saga to settle, sampling the parking OU meanwhile; returns the most users
/// seen out of scope at once.
async fn settle_all(detour: &Detour, tenant: &TenantFixture, ids: &[String]) -> usize {
    let peak = std::sync::atomic::AtomicUsize::new(0);
    eventually(Duration::from_secs(240), "every saga to settle", || async {
        peak.fetch_max(parked(tenant).await, std::sync::atomic::Ordering::Relaxed);
        let list: Value = detour
            .client
            .get(format!("{}/sagas?limit=1000", detour.api))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let open = list["sagas"]
            .as_array()?
            .iter()
            .filter(|s| ids.iter().any(|id| s["saga_id"] == id.as_str()))
            .filter(|s| {
                !["completed", "compensated", "needs-attention"]
                    .contains(&s["status"].as_str().unwrap_or(""))
            })
            .count();
        (open == 0).then_some(())
    })
    .await;
    peak.into_inner()
}

/// Every saga completed (none rolled back), every user fixed, no user left parked.
async fn assert_all_fixed(
    detour: &Detour,
    tenant: &TenantFixture,
    ids: &[String],
    before: &Before,
) {
    for id in ids {
        let view = detour.show(id).await;
        assert_eq!(view.status, "completed", "{}", timeline(&view));
    }
    for (name, was) in &before.users {
        let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam(name));
        assert_fixed(tenant, &tenant.upn(name), &address, was).await;
    }
    assert_eq!(parked(tenant).await, 0, "a user was left out of scope");
}

fn runs_since(before: &Before, runs: &[Value]) -> usize {
    runs.len() - before.runs
}

const COORDINATOR: &[(&str, &str)] = &[
    ("DETOUR__SAGA__ACTION_DEADLINE_MS", "60000"),
    ("DETOUR__SAGA__WAIT_DEADLINE_MS", "60000"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_six_users_at_once_are_all_fixed_sharing_a_few_cycles() {
    let count = 36;
    let tenant = crowd("many-at-once", count, |_| {}).await;
    let before = before(&tenant, count).await;
    let detour = Detour::start_with(&tenant, "many-at-once", COORDINATOR, Vec::new()).await;
    let ids = start_all(&detour, &tenant, count).await;
    settle_all(&detour, &tenant, &ids).await;
    assert_all_fixed(&detour, &tenant, &ids, &before).await;
    let cycles = runs_since(&before, &tenant.runs().await);
    // One batch: a cycle out and a cycle back, and a few more for requests that arrive while
    // one runs (how many depends on how the machine schedules the burst). The seed's pace
    // would be 2 per user, 72 here.
    assert!(cycles <= count / 4, "{cycles} cycles for {count} users");
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_overlap_under_max_descoped_while_connects_scheduler_runs_its_own_cycles() {
    let count = 30;
    let max_descoped = 8;
    let tenant = crowd("many-scheduler", count, |scenario| {
        // Connect's scheduler, every second instead of every 30 minutes.
        scenario["connect"]["interval_seconds"] = json!(1);
        scenario["delays"]["cycle_seconds"] = json!(0.3);
    })
    .await;
    let before = before(&tenant, count).await;
    let limit = max_descoped.to_string();
    let mut settings = COORDINATOR.to_vec();
    settings.push(("DETOUR__SAGA__MAX_DESCOPED", &limit));
    let detour = Detour::start_with(&tenant, "many-scheduler", &settings, Vec::new()).await;
    let ids = start_all(&detour, &tenant, count).await;
    let peak = settle_all(&detour, &tenant, &ids).await;
    assert_all_fixed(&detour, &tenant, &ids, &before).await;
    assert!(peak <= max_descoped, "{peak} out of scope at once");
    detour.bus.stop().await;
}

/// The sync-trigger binary, built the way `cargo build` builds it.
fn sync_trigger_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    detour_system::fleet::build_debug_binaries(&[Service::SyncTrigger], &exe)
        .unwrap()
        .join(Service::SyncTrigger.as_str())
}

/// sync-trigger as its own process on the harness's vhost, so it can be SIGKILLed; returned
/// once it consumes.
async fn spawn_sync_trigger(binary: &PathBuf, detour: &Detour, tenant: &TenantFixture) -> Child {
    let port = detour_testkit::free_port();
    let child = Command::new(binary)
        .envs(
            detour
                .bus
                .env()
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .env("DETOUR__CONNECT__BASE_URL", &tenant.base)
        .env("DETOUR__CONNECT__AGENT_KEY", &tenant.agent_key)
        .env("DETOUR__CONNECT__COALESCE_WINDOW_MS", "300")
        .env("DETOUR__CONNECT__POLL_INTERVAL_MS", "100")
        .env("DETOUR__TELEMETRY__LOG_FILTER", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .env("DETOUR__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .kill_on_drop(true)
        .spawn()
        .expect("sync-trigger starts");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    eventually(
        Duration::from_secs(20),
        "sync-trigger to consume",
        || async {
            let response = detour.client.get(&ready).send().await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
    child
}

/// Whether a cycle is running now, as Connect's scheduler state says.
async fn cycle_running(tenant: &TenantFixture) -> bool {
    let (_, scheduler) = tenant.agent(reqwest::Method::GET, "/scheduler", None).await;
    scheduler["syncCycleInProgress"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_trigger_killed_in_the_middle_of_a_shared_cycle_loses_no_saga() {
    let count = 30;
    let binary = sync_trigger_binary();
    let tenant = crowd("many-kill", count, |scenario| {
        scenario["delays"]["cycle_seconds"] = json!(2.0);
    })
    .await;
    let before = before(&tenant, count).await;
    let mut steps = step_services(&tenant);
    // sync-trigger runs as its own process below.
    drop(steps.remove(1));
    let detour = Detour::start_services(&tenant, "many-kill", COORDINATOR, steps, Vec::new()).await;
    let mut sync_trigger = spawn_sync_trigger(&binary, &detour, &tenant).await;
    let ids = start_all(&detour, &tenant, count).await;

    // Twice: once while the batch's SyncOut cycle runs, once during its SyncIn cycle.
    for kill in 0..2 {
        let first_cycle = before.runs + 1 + kill;
        eventually(Duration::from_secs(60), "a shared cycle to run", || async {
            let started = tenant.runs().await.len() >= first_cycle;
            (started && cycle_running(&tenant).await).then_some(())
        })
        .await;
        sync_trigger.start_kill().unwrap();
        sync_trigger.wait().await.unwrap();
        sync_trigger = spawn_sync_trigger(&binary, &detour, &tenant).await;
    }
    settle_all(&detour, &tenant, &ids).await;
    assert_all_fixed(&detour, &tenant, &ids, &before).await;
    sync_trigger.start_kill().unwrap();
    detour.bus.stop().await;
}
