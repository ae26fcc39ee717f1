//! The chaos run (`scripts/chaos`): N remediations in one tenant, each asked for by a signed
//! Jira webhook, while the six services (real processes) are SIGKILLed and started again at
//! random, the broker and LDAP links and sync-trigger's link to the sync engine (agent API,
//! a Connect server over SSH, or Cloud Sync) are cut through chaos proxies, and webhooks and
//! commands already sent are delivered again. Then the invariants, from the real AD and
//! tenant-sim: every user fixed or put back exactly as before (one cloud object, the same
//! one, synced, no stray direct licence), no effect twice (tenant-sim counts them), nobody
//! left out of scope, no saga stuck, one final comment per ticket.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use detour_bus::{Outgoing, Publisher};
use detour_config::Secret;
use detour_contracts::{SagaId, Service};
use detour_testkit::{ChaosProxy, TestSqlite, TestVhost};
use saga_coordinator::store::Store;
use serde_json::{Value, json};
use tenant_sim::fixture::{SshConnectServer, TenantFixture};

use crate::{
    bulk::{self, Operator, Pace},
    desk::{self, Desk},
    fleet::{Fleet, Launch},
    services,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosPlan {
    pub sagas: usize,
    /// Few, so the sagas go in batches and the faults land while they work.
    pub max_descoped: usize,
    /// Time between two faults.
    pub fault_every: Duration,
    pub broker_cuts: usize,
    pub ldap_cuts: usize,
    /// How long a cut lasts.
    pub cut_for: Duration,
    /// Copies of already-sent commands delivered again, per second of the run.
    pub duplicates_per_second: usize,
    pub timeout: Duration,
    /// How sync-trigger reaches the sync engine.
    pub sync: SyncBackend,
    /// Cuts of sync-trigger's link to the sync engine (the agent API, the Connect server's
    /// SSH, Cloud Sync's Graph), each `cut_for` long.
    pub sync_cuts: usize,
}

/// The ways sync-trigger reaches a sync engine, as `connect.backend` names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncBackend {
    /// tenant-sim's Connect agent API.
    #[default]
    Agent,
    /// A Connect server over a real OpenSSH server (tenant-sim's ADSync shell behind it).
    Ssh,
    /// A Cloud Sync tenant over Graph's synchronization API.
    CloudSync,
}

/// What happened, and what it left.
#[derive(Debug, Default, Clone)]
pub struct ChaosReport {
    pub sagas: usize,
    pub fixed: usize,
    pub put_back: usize,
    pub stuck: usize,
    pub violations: Vec<String>,
    pub kills: usize,
    pub broker_cuts: usize,
    pub ldap_cuts: usize,
    pub sync_cuts: usize,
    pub duplicates: usize,
    pub wall: Duration,
    pub statuses: BTreeMap<String, u64>,
    /// The sagas not settled well at the end: id, user and status.
    pub unsettled: Vec<String>,
    /// Each effect tenant-sim counted, summed over the users.
    pub effects: BTreeMap<String, u64>,
}

impl ChaosReport {
    /// The one line that ends a run.
    pub fn line(&self) -> String {
        format!(
            "chaos: sagas={} fixed={} put_back={} stuck={} violations={} kills={} \
             broker_cuts={} ldap_cuts={} sync_cuts={} duplicates={}",
            self.sagas,
            self.fixed,
            self.put_back,
            self.stuck,
            self.violations.len(),
            self.kills,
            self.broker_cuts,
            self.ldap_cuts,
            self.sync_cuts,
            self.duplicates
        )
    }

    pub fn clean(&self) -> bool {
        self.stuck == 0 && self.violations.is_empty() && self.fixed + self.put_back == self.sagas
    }
}

/// How long one round of replayed commands may take before the run goes on without it.
const REPLAY_PATIENCE: Duration = Duration::from_secs(10);

/// Longer than the gateway's longest retry delay (30 s) after a failed post.
const FINAL_COMMENT_PATIENCE: Duration = Duration::from_secs(45);

/// Statuses after which a saga waits for nothing.
const SETTLED: [&str; 6] = [
    "completed",
    "compensated",
    "nothing-to-do",
    "refused",
    "undiagnosable",
    "needs-attention",
];

#[derive(Debug, Clone, Copy)]
enum Fault {
    Kill(Service),
    BrokerCut,
    LdapCut,
    SyncCut,
}

/// Runs `plan` with the services' binaries from `bin_dir`, logging under `log_dir`, and
/// reports; `progress` gets a line now and then.
pub async fn run(
    plan: &ChaosPlan,
    bin_dir: &Path,
    log_dir: &Path,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<ChaosReport> {
    let pace = Pace {
        cycle_seconds: 5.0,
        mailbox_seconds: 1.0,
    };
    let tenant = bulk::crowd_with(plan.sagas, pace, |scenario| {
        let issues: Vec<Value> = (0..plan.sagas)
            .map(|i| {
                let upn = scenario["ad"]["users"][i]["user_principal_name"].clone();
                json!({
                    "key": ticket(i),
                    "summary": "Mail to this mailbox bounces",
                    "description": format!("Affected user: {}", upn.as_str().unwrap_or_default()),
                    "labels": ["detour"],
                })
            })
            .collect();
        scenario["tickets"] = desk::tickets_section(&issues, &[]);
        if plan.sync == SyncBackend::CloudSync {
            TenantFixture::on_cloud_sync(scenario, 2);
        }
    })
    .await;
    let names = bulk::names(plan.sagas);
    let before = bulk::snapshot(&tenant, &names).await?;

    let vhost = TestVhost::create("chaos").await?;
    let broker = ChaosProxy::start(resolve(&vhost.host, vhost.port)?).await?;
    let store = TestSqlite::create("chaos")?;
    let store_path = store.url.trim_start_matches("sqlite://").to_owned();
    let mut launches = bulk::launches(&tenant, &vhost, store_path.as_ref(), plan.max_descoped)?;
    let ldap_url = launches
        .iter()
        .flat_map(|l| &l.env)
        .find(|(k, _)| k == "DETOUR__LDAP__URL")
        .map(|(_, v)| v.clone())
        .context("ad-ops has no LDAP URL")?;
    let (ldap_host, ldap_port) = host_port(&ldap_url)?;
    let ldap = ChaosProxy::start(resolve(&ldap_host, ldap_port)?).await?;
    // Kept until the run ends: the proxy on sync-trigger's link, and the SSH server.
    let (sync_link, _ssh) = reach_sync_engine(plan.sync, &tenant, &mut launches).await?;
    // The rung that deletes and restores, on every backend: the one a fault can hurt most
    // (the ladder would take the gentler cloud-managed rung on Cloud Sync).
    launches
        .iter_mut()
        .find(|l| l.service == Service::SagaCoordinator)
        .context("no coordinator in the fleet")?
        .env
        .push(("DETOUR__SAGA__STRATEGIES".into(), "round-trip".into()));
    for launch in &mut launches {
        for (key, value) in &mut launch.env {
            match key.as_str() {
                "DETOUR__AMQP__HOST" => *value = "127.0.0.1".into(),
                "DETOUR__AMQP__PORT" => *value = broker.addr.port().to_string(),
                "DETOUR__LDAP__URL" => {
                    *value = ldap_url
                        .replace(&format!(":{ldap_port}"), &format!(":{}", ldap.addr.port()));
                }
                // Short deadlines, so a step lost to a fault is retried or undone in the run.
                "DETOUR__SAGA__ACTION_DEADLINE_MS" | "DETOUR__SAGA__WAIT_DEADLINE_MS" => {
                    *value = "60000".into();
                }
                _ => {}
            }
        }
    }
    let gateway_env: Vec<(String, String)> = launches[0]
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("DETOUR__AMQP__") || k.starts_with("DETOUR__TELEMETRY__"))
        .cloned()
        .chain(services::gateway_env(&tenant.base))
        .filter(|(k, _)| k != "DETOUR__WEBHOOK__DELIVERIES_URL")
        .chain([(
            "DETOUR__WEBHOOK__DELIVERIES_URL".to_owned(),
            // A file of this run's own: a restarted gateway keeps the ids, a new run starts clean.
            format!(
                "sqlite://{}",
                log_dir
                    .join(format!("gateway-{}.db", uuid::Uuid::new_v4().simple()))
                    .display()
            ),
        )])
        .collect();
    launches.push(Launch {
        service: Service::TicketGateway,
        port: 0,
        env: gateway_env,
    });
    // Ports of its own, below the ephemeral range, so a run (or its test) beside others never
    // collides with them, even while a killed service is down.
    for launch in &mut launches {
        launch.port = detour_testkit::free_port();
    }
    let port_of = |service| {
        launches
            .iter()
            .find(|l| l.service == service)
            .map(|l| l.port)
            .with_context(|| format!("no {service} in the fleet"))
    };
    let coordinator = port_of(Service::SagaCoordinator)?;
    let desk = Desk {
        client: crate::http_client()?,
        gateway: format!("http://127.0.0.1:{}", port_of(Service::TicketGateway)?),
        tickets: tenant.base.clone(),
        jira_secret: Secret::new(services::JIRA_WEBHOOK_SECRET),
        webhook_token: Secret::new(services::WEBHOOK_TOKEN),
    };
    let mut fleet = Fleet::start(bin_dir, &launches, log_dir)?;
    fleet.wait_ready(Duration::from_secs(60), |_, _| {}).await?;
    let operator = Operator {
        client: crate::http_client()?,
        api: format!("http://127.0.0.1:{coordinator}/api/v1"),
    };
    // What the coordinator sent, read from its store (opened once, beside the coordinator).
    let sent = Store::open(&store.url).await?;
    // Copies go straight to the broker, past the proxy, as a publisher's re-send would.
    let replayer = Publisher::new(amqp_settings(&vhost)?, "chaos replayer");

    let started = Instant::now();
    for i in 0..plan.sagas {
        file_ticket(&desk, i, Duration::from_secs(60)).await?;
    }
    // Each of the six services killed once, in a random order among the cuts.
    let mut faults: Vec<Fault> = Service::ALL.iter().map(|s| Fault::Kill(*s)).collect();
    faults.extend(std::iter::repeat_n(Fault::BrokerCut, plan.broker_cuts));
    faults.extend(std::iter::repeat_n(Fault::LdapCut, plan.ldap_cuts));
    faults.extend(std::iter::repeat_n(Fault::SyncCut, plan.sync_cuts));
    shuffle(&mut faults);

    let mut report = ChaosReport {
        sagas: plan.sagas,
        ..ChaosReport::default()
    };
    let mut next_fault = Instant::now() + plan.fault_every;
    let mut last_line = Instant::now();
    loop {
        if started.elapsed() > plan.timeout {
            progress("timed out waiting for the sagas to settle");
            break;
        }
        if Instant::now() >= next_fault
            && let Some(fault) = faults.pop()
        {
            progress(&format!("fault: {fault:?}"));
            match fault {
                Fault::Kill(service) => {
                    fleet.kill_and_restart(service).await?;
                    report.kills += 1;
                }
                Fault::BrokerCut => {
                    broker.cut();
                    tokio::time::sleep(plan.cut_for).await;
                    broker.restore();
                    report.broker_cuts += 1;
                }
                Fault::LdapCut => {
                    ldap.cut();
                    tokio::time::sleep(plan.cut_for).await;
                    ldap.restore();
                    report.ldap_cuts += 1;
                }
                Fault::SyncCut => {
                    sync_link.cut();
                    tokio::time::sleep(plan.cut_for).await;
                    sync_link.restore();
                    report.sync_cuts += 1;
                }
            }
            next_fault = Instant::now() + plan.fault_every;
        }
        if faults.is_empty() {
            // Faults done: wait for the sagas, through restarts the API may still be in.
            if let Ok(statuses) = operator.counts().await {
                let settled: u64 = SETTLED
                    .iter()
                    .map(|s| statuses.get(*s).copied().unwrap_or(0))
                    .sum();
                report.statuses = statuses;
                if settled == plan.sagas as u64 {
                    break;
                }
            }
        }
        match tokio::time::timeout(
            REPLAY_PATIENCE,
            replay_some(&sent, &replayer, plan.duplicates_per_second),
        )
        .await
        {
            Ok(replayed) => report.duplicates += replayed,
            Err(_) => progress(&format!(
                "replaying commands took over {REPLAY_PATIENCE:?}; going on"
            )),
        }
        // And a webhook Jira delivers again, under its own delivery id.
        if file_ticket(&desk, pick(plan.sagas), Duration::ZERO)
            .await
            .is_ok()
        {
            report.duplicates += 1;
        }
        if last_line.elapsed() > Duration::from_secs(5) {
            let elapsed = started.elapsed().as_secs_f64();
            match operator.counts().await {
                Ok(statuses) => progress(&format!(
                    "{elapsed:>4.0}s {statuses:?} duplicates={}",
                    report.duplicates
                )),
                Err(error) => {
                    progress(&format!("{elapsed:>4.0}s the coordinator's API: {error:#}"))
                }
            }
            last_line = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    report.wall = started.elapsed();
    // Let what the last copies asked for finish before judging the world.
    tokio::time::sleep(Duration::from_secs(3)).await;
    if let Ok(statuses) = operator.counts().await {
        report.statuses = statuses;
    }
    let settled_well = ["completed", "compensated", "nothing-to-do"];
    report.stuck = plan.sagas
        - settled_well
            .iter()
            .map(|s| report.statuses.get(*s).copied().unwrap_or(0) as usize)
            .sum::<usize>()
            .min(plan.sagas);
    if report.stuck > 0
        && let Ok(sagas) = sent.list(&saga_coordinator::store::Filter::default()).await
    {
        report.unsettled = sagas
            .iter()
            .filter(|saga| !settled_well.contains(&saga.status.as_str()))
            .map(|saga| format!("{} {}: {}", saga.saga_id, saga.user, saga.status))
            .collect();
    }
    judge(&tenant, &names, &before, &mut report).await?;
    one_final_comment_each(&desk, plan.sagas, &mut report).await;
    let _ = fleet.stop(Duration::from_secs(20)).await;
    replayer.close().await;
    Ok(report)
}

/// Points sync-trigger at the engine `sync` names (starting the SSH server in front of the
/// Connect server where that is the way), through a chaos proxy of its own; returns the
/// proxy, whose cut cuts the link, and the SSH server.
async fn reach_sync_engine(
    sync: SyncBackend,
    tenant: &TenantFixture,
    launches: &mut [Launch],
) -> anyhow::Result<(ChaosProxy, Option<SshConnectServer>)> {
    let ssh = match sync {
        SyncBackend::Ssh => Some(SshConnectServer::start(tenant).await),
        SyncBackend::Agent | SyncBackend::CloudSync => None,
    };
    let (env, address_key) = match &ssh {
        Some(ssh) => (ssh.sync_trigger_env(), "DETOUR__CONNECT__SSH__PORT"),
        None if sync == SyncBackend::CloudSync => {
            (tenant.cloud_sync_env(), "DETOUR__GRAPH__BASE_URL")
        }
        None => (
            vec![
                ("DETOUR__CONNECT__BASE_URL".to_owned(), tenant.base.clone()),
                (
                    "DETOUR__CONNECT__AGENT_KEY".to_owned(),
                    tenant.agent_key.clone(),
                ),
            ],
            "DETOUR__CONNECT__BASE_URL",
        ),
    };
    let address = env
        .iter()
        .find(|(k, _)| k == address_key)
        .map(|(_, v)| v.clone())
        .with_context(|| format!("sync-trigger's settings have no {address_key}"))?;
    // The SSH backend takes a bare port; the others a URL.
    let (host, port) = match sync {
        SyncBackend::Ssh => ("127.0.0.1".to_owned(), address.parse()?),
        SyncBackend::Agent | SyncBackend::CloudSync => host_port(&address)?,
    };
    let proxy = ChaosProxy::start(resolve(&host, port)?).await?;
    let through_proxy = match sync {
        SyncBackend::Ssh => proxy.addr.port().to_string(),
        SyncBackend::Agent | SyncBackend::CloudSync => {
            address.replace(&format!(":{port}"), &format!(":{}", proxy.addr.port()))
        }
    };
    let sync_trigger = launches
        .iter_mut()
        .find(|l| l.service == Service::SyncTrigger)
        .context("no sync-trigger in the fleet")?;
    sync_trigger
        .env
        .retain(|(k, _)| k != "DETOUR__CONNECT__BASE_URL" && k != "DETOUR__CONNECT__AGENT_KEY");
    sync_trigger.env.extend(env.into_iter().map(|(k, v)| {
        let v = if k == address_key {
            through_proxy.clone()
        } else {
            v
        };
        (k, v)
    }));
    Ok((proxy, ssh))
}

/// The Jira key of the `i`th user's ticket.
fn ticket(i: usize) -> String {
    format!("HELP-{}", i + 1)
}

/// Delivers the `i`th ticket's `jira:issue_created` webhook (again, the second time), as
/// Jira does: under the same delivery id, retried for `patience` while the gateway is away.
async fn file_ticket(desk: &Desk, i: usize, patience: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let sent = async {
            let issue = desk.jira_issue(&ticket(i)).await?;
            desk.jira_webhook(&desk::jira_created(&issue), &format!("chaos-delivery-{i}"))
                .await
        };
        match sent.await {
            Ok((202, _)) => return Ok(()),
            outcome if Instant::now() > deadline => {
                bail!("the gateway never took {}: {outcome:?}", ticket(i))
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Each ticket ends with exactly one final comment, waiting for the gateway (which may be
/// retrying a post a kill or a cut interrupted) up to `FINAL_COMMENT_PATIENCE` for them all.
async fn one_final_comment_each(desk: &Desk, count: usize, report: &mut ChaosReport) {
    let deadline = Instant::now() + FINAL_COMMENT_PATIENCE;
    for i in 0..count {
        let finals = loop {
            let finals = desk
                .jira_comments(&ticket(i))
                .await
                .map(|comments| comments.iter().filter(|c| desk::is_final(c)).count())
                .unwrap_or(0);
            if finals > 0 || Instant::now() > deadline {
                break finals;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        if finals != 1 {
            report
                .violations
                .push(format!("{}: {finals} final comments", ticket(i)));
        }
    }
}

/// Fixed or put back, user by user, and nobody out of scope.
async fn judge(
    tenant: &TenantFixture,
    names: &[String],
    before: &BTreeMap<String, Value>,
    report: &mut ChaosReport,
) -> anyhow::Result<()> {
    let fixed = bulk::fixed_users(tenant, before).await?;
    let now = bulk::cloud_users(tenant).await?;
    for name in names {
        if fixed.contains(name) {
            report.fixed += 1;
            continue;
        }
        let was = &before[name];
        let objects = now
            .get(&tenant.upn(name).to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        let same = |user: &Value| {
            [
                "id",
                "on_premises_sync_enabled",
                "on_premises_immutable_id",
                "direct_licenses",
                "deleted",
            ]
            .iter()
            .all(|field| user[*field] == was[*field])
        };
        match objects.as_slice() {
            [user] if same(user) => report.put_back += 1,
            [] => report.violations.push(format!("{name}: no cloud user")),
            [_] => report
                .violations
                .push(format!("{name}: neither fixed nor as before")),
            more => report
                .violations
                .push(format!("{name}: {} cloud objects", more.len())),
        }
    }
    // No effect twice: a round trip soft-deletes, restores, adds and removes the temporary
    // licence once each, whatever was redelivered or killed in between.
    let effects = bulk::effects(tenant).await?;
    for name in names {
        let id = before[name]["id"].as_str().unwrap_or_default();
        let Some(done) = effects.get(id).and_then(Value::as_object) else {
            continue;
        };
        for (effect, count) in done {
            *report.effects.entry(effect.clone()).or_default() += count.as_u64().unwrap_or(0);
            if count.as_u64().unwrap_or(0) > 1 {
                report
                    .violations
                    .push(format!("{name}: {effect} {count} times"));
            }
        }
    }
    let parked = bulk::out_of_scope(tenant).await?;
    if parked > 0 {
        report
            .violations
            .push(format!("{parked} user(s) left out of sync scope"));
    }
    Ok(())
}

/// Delivers again up to `count` commands the coordinator already sent, picked at random:
/// exact copies (same message id, same expiry), as a broker redelivery or a publisher's
/// re-send would bring them. Returns how many went out.
async fn replay_some(store: &Store, publisher: &Publisher, count: usize) -> usize {
    let every = saga_coordinator::store::Filter {
        limit: Some(10_000),
        ..Default::default()
    };
    let Ok(sagas) = store.list(&every).await else {
        return 0;
    };
    let mut sent = 0;
    for _ in 0..count {
        if sagas.is_empty() {
            break;
        }
        let saga: SagaId = sagas[pick(sagas.len())].saga_id;
        let Ok(commands) = store.commands_of(saga).await else {
            continue;
        };
        if commands.is_empty() {
            continue;
        }
        let command = &commands[pick(commands.len())].message;
        let published = publisher
            .publish_outgoing(Outgoing {
                exchange: &command.exchange,
                routing_key: &command.routing_key,
                body: command.body.as_bytes(),
                message_id: &command.message_id,
                message_type: &command.message_type,
                headers: Vec::new(),
            })
            .await;
        if published.is_ok() {
            sent += 1;
        }
    }
    sent
}

/// The settings that reach `vhost` directly.
fn amqp_settings(vhost: &TestVhost) -> anyhow::Result<detour_bus::AmqpSettings> {
    let pairs = [
        ("DETOUR__AMQP__HOST", vhost.host.clone()),
        ("DETOUR__AMQP__PORT", vhost.port.to_string()),
        ("DETOUR__AMQP__USERNAME", vhost.username.clone()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.clone()),
        ("DETOUR__AMQP__VHOST", vhost.name.clone()),
    ];
    let sources = detour_config::Sources::from_pairs(
        String::new(),
        pairs.iter().map(|(k, v)| (*k, v.as_str())),
    );
    let settings: detour_service::ServiceSettings = detour_service::load_config(0, sources)?;
    Ok(settings.amqp)
}

/// A number in `0..n` from the operating system's randomness.
fn pick(n: usize) -> usize {
    (uuid::Uuid::new_v4().as_u128() % n as u128) as usize
}

fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, pick(i + 1));
    }
}

fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("{host}:{port} does not resolve"))
}

/// The host and port of an `ldaps://host:port` URL.
fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(url)
        .trim_end_matches('/');
    let Some((host, port)) = rest.rsplit_once(':') else {
        bail!("{url} names no port");
    };
    Ok((host.to_owned(), port.parse()?))
}
