//! The README's main job: the seed's case remediated end to end, twice. It resets the contoso
//! scenario's users in the dev stack's AD, starts tenant-sim with `scenarios/contoso.json`
//! (a hybrid tenant on Connect 2.4 whose group-licensed users Ada and Grace lack their
//! `contoso.mail.onmicrosoft.com` address though AD holds it, a healthy user, and an
//! administrator Detour must refuse), and starts the six services. Case 1 files Jira ticket
//! HELP-42 for Ada: on that old Connect only the round trip can fix her. Then the
//! administrator upgrades Connect to 2.5.190.0, and case 2 files HELP-43 for Grace: now the
//! mailbox's Exchange attributes can be made cloud-managed, and she is fixed with no deletion.
//! Each case shows the ticket's comments as they arrive (which rung, and why not the gentler
//! ones). It exits non-zero unless both users end fixed (address present, synced, the same
//! object, the group's licence only), Grace was never deleted, both tickets are resolved with
//! one final comment each, and all six services took part in case 1's trace.
//!
//! `detour-demo --compose` checks the same of case 1 against Detour already running in
//! containers (scripts/compose-demo): it files HELP-42 through the published gateway, follows
//! it, reads the user from the published tenant-sim, and reads the trace back from the OTLP
//! receiver that stands in for Jaeger there.

use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use detour_config::{Secret, Sources};
use detour_contracts::Service;
use detour_system::{
    desk::{Desk, is_final},
    fleet::{Fleet, Launch},
    remediation::{
        GraphReader, file_jira_ticket, fixed_checks, follow_ticket, spans_by_service, trace_id_in,
    },
    services::{self, JIRA_WEBHOOK_SECRET, WEBHOOK_TOKEN},
};
use detour_telemetry::{LogFormat, Telemetry, TelemetrySettings};
use detour_testkit::{OtlpReceiver, Stack};
use serde_json::Value;
use tokio::process::{Child, Command};

const SCENARIO: &str = "simulator/tenant-sim/scenarios/contoso.json";
const TENANT_SIM: &str = "127.0.0.1:8090";
/// The two cases: a ticket, its user, and what must show that the rung was the right one.
const CASES: [Case; 2] = [
    Case {
        ticket: "HELP-42",
        user: "ada.lovelace@contoso.com",
        rung: "round trip",
    },
    Case {
        ticket: "HELP-43",
        user: "grace.hopper@contoso.com",
        rung: "cloud-managed",
    },
];

/// Connect after the administrator's upgrade between the cases (domain-2026.md 2.1).
const UPGRADED_CONNECT: &str = "2.5.190.0";

struct Case {
    ticket: &'static str,
    user: &'static str,
    /// Words the diagnosis comment must use for the rung taken.
    rung: &'static str,
}

/// Where `--compose` finds the containers' published ports (docker-compose.yml and
/// deploy/compose.local.yml).
const COMPOSE_GATEWAY: &str = "http://127.0.0.1:8086";
const COMPOSE_SPANS: &str = "http://127.0.0.1:4318/spans";

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = if std::env::args().any(|a| a == "--compose") {
        run_compose().await
    } else {
        run().await
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("detour-demo: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let settings: detour_service::ServiceSettings = detour_service::load_config(
        services::default_port(Service::SagaCoordinator),
        Sources::from_process(String::new()),
    )?;
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(SCENARIO).with_context(|| format!("cannot read {SCENARIO}"))?,
    )?;
    let receiver = OtlpReceiver::start().await?;
    let telemetry = Telemetry::install_with_sink(
        "detour-demo",
        &TelemetrySettings {
            otlp_endpoint: receiver.endpoint(),
            log_filter: "warn".into(),
            log_format: LogFormat::Pretty,
        },
        std::io::stderr,
    )?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .context("no binary directory")?;
    let log_dir = bin_dir.join("demo-logs");
    std::fs::create_dir_all(&log_dir)?;

    let stack = Stack::load()?;
    println!(
        "Resetting the contoso scenario's users in AD ({})",
        stack.get("DETOUR_LDAP_URL")?
    );
    reset_scenario_objects(&stack, &scenario).await?;
    println!("Starting tenant-sim with {SCENARIO} on {TENANT_SIM}");
    let mut sim = start_tenant_sim(&bin_dir, &log_dir, &stack, &receiver.endpoint())?;
    wait_for_tenant_sim(&mut sim).await?;

    let launches = launches(&receiver.endpoint())?;
    println!(
        "Starting the six services on {} (logs in {})",
        settings.amqp.display_uri(),
        log_dir.display()
    );
    let mut fleet = Fleet::start(&bin_dir, &launches, &log_dir)?;
    fleet
        .wait_ready(Duration::from_secs(60), |service, port| {
            println!("  ready   {service:<17} ops on 127.0.0.1:{port}")
        })
        .await?;

    let tenant = format!("http://{TENANT_SIM}");
    let graph = GraphReader {
        client: detour_system::http_client()?,
        base: tenant.clone(),
        tenant_id: text(&scenario["tenant"]["id"])?,
        client_id: text(&scenario["apps"][0]["client_id"])?,
        secret: text(&scenario["apps"][0]["client_secret"])?,
    };
    let desk = Desk {
        client: detour_system::http_client()?,
        gateway: format!(
            "http://127.0.0.1:{}",
            services::default_port(Service::TicketGateway)
        ),
        tickets: tenant.clone(),
        jira_secret: Secret::new(JIRA_WEBHOOK_SECRET),
        webhook_token: Secret::new(WEBHOOK_TOKEN),
    };
    let coexistence_domain = text(&scenario["tenant"]["coexistence_domain"])?;
    let mut checks = Vec::new();
    let mut first_trace = String::new();
    for (number, case) in CASES.iter().enumerate() {
        if number == 1 {
            println!("The administrator upgrades Entra Connect Sync to {UPGRADED_CONNECT}");
            upgrade_connect(&desk.client, &tenant, UPGRADED_CONNECT).await?;
        }
        println!("Case {}: {} for {}", number + 1, case.ticket, case.user);
        let (case_checks, trace_id) =
            run_case(case, &desk, &graph, &tenant, &coexistence_domain, started).await?;
        checks.extend(case_checks);
        if number == 0 {
            first_trace = trace_id;
        }
    }

    println!("Stopping the services (SIGTERM) and tenant-sim");
    let codes = fleet.stop(Duration::from_secs(30)).await;
    stop_tenant_sim(&mut sim).await;
    telemetry.flush().await;
    let spans = spans_by_service(&receiver.spans(), &first_trace);
    for (service, code) in codes {
        let in_trace = spans.get(service.as_str()).copied().unwrap_or(0);
        checks.push((
            format!("{service} exited cleanly ({code:?}) with {in_trace} spans in case 1's trace"),
            code == Some(0) && in_trace > 0,
        ));
    }
    let sim_spans = spans.get("tenant-sim").copied().unwrap_or(0);
    checks.push((
        format!("tenant-sim's server spans joined the trace ({sim_spans})"),
        sim_spans > 0,
    ));
    telemetry.shutdown().await;

    Ok(report(
        &checks,
        "fixed: both users, both tickets resolved, one with no deletion",
        "NOT fixed (see the checks above and the logs)",
        &first_trace,
    ))
}

/// Case 1 against the containers: the same checks, then every service's spans in its trace.
async fn run_compose() -> anyhow::Result<bool> {
    let started = Instant::now();
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(SCENARIO).with_context(|| format!("cannot read {SCENARIO}"))?,
    )?;
    let tenant = format!("http://{TENANT_SIM}");
    let client = detour_system::http_client()?;
    // Every service consuming (its queue declared and bound), not only the gateway: a ticket
    // filed before the coordinator's queue exists is refused with 503.
    for service in Service::ALL {
        let ready = format!(
            "http://127.0.0.1:{}/readyz",
            services::default_port(service)
        );
        wait_ready(&client, &ready, Duration::from_secs(120)).await?;
    }
    let graph = GraphReader {
        client: client.clone(),
        base: tenant.clone(),
        tenant_id: text(&scenario["tenant"]["id"])?,
        client_id: text(&scenario["apps"][0]["client_id"])?,
        secret: text(&scenario["apps"][0]["client_secret"])?,
    };
    let desk = Desk {
        client: client.clone(),
        gateway: COMPOSE_GATEWAY.into(),
        tickets: tenant.clone(),
        jira_secret: Secret::new(JIRA_WEBHOOK_SECRET),
        webhook_token: Secret::new(WEBHOOK_TOKEN),
    };
    let coexistence_domain = text(&scenario["tenant"]["coexistence_domain"])?;
    let case = &CASES[0];
    println!("Case 1 in containers: {} for {}", case.ticket, case.user);
    let (mut checks, trace_id) =
        run_case(case, &desk, &graph, &tenant, &coexistence_domain, started).await?;
    // The services export in batches: give the last ones a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans: Vec<detour_testkit::ReceivedSpan> = match client.get(COMPOSE_SPANS).send().await
        {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let counts = spans_by_service(&spans, &trace_id);
        let all = traced()
            .iter()
            .all(|s| counts.get(*s).is_some_and(|n| *n > 0));
        if all || Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for service in traced() {
        let in_trace = spans.get(service).copied().unwrap_or(0);
        checks.push((
            format!("{service} has {in_trace} spans in the remediation's trace"),
            in_trace > 0,
        ));
    }
    Ok(report(
        &checks,
        "fixed in containers: the user, the ticket resolved once, one trace",
        "NOT fixed (see the checks above and `docker compose logs`)",
        &trace_id,
    ))
}

/// Prints every check and the outcome; whether all held.
fn report(checks: &[(String, bool)], fixed: &str, not_fixed: &str, trace_id: &str) -> bool {
    println!("Checks:");
    for (check, holds) in checks {
        println!("  [{}] {check}", if *holds { " ok " } else { "FAIL" });
    }
    let ok = checks.iter().all(|(_, holds)| *holds);
    println!("Outcome: {}", if ok { fixed } else { not_fixed });
    println!("trace_id={trace_id}");
    ok
}

/// Who must appear in the remediation's trace: the six services and tenant-sim's server.
fn traced() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Service::ALL.iter().map(|s| s.as_str()).collect();
    all.push("tenant-sim");
    all
}

/// Waits until `url` answers 200.
async fn wait_ready(client: &reqwest::Client, url: &str, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Files the case's ticket, follows its comments, and checks the user and the ticket after.
/// Answers the checks and the case's trace id.
async fn run_case(
    case: &Case,
    desk: &Desk,
    graph: &GraphReader,
    tenant: &str,
    coexistence_domain: &str,
    started: Instant,
) -> anyhow::Result<(Vec<(String, bool)>, String)> {
    let user = case.user;
    let address = format!(
        "{}@{coexistence_domain}",
        user.split('@').next().unwrap_or_default()
    );
    let before = graph.user(user).await?;
    println!(
        "  Before: {user} has {} (cloud object {})",
        before["proxyAddresses"], before["id"]
    );
    println!(
        "  Filing Jira ticket {} through the gateway's signed webhook",
        case.ticket
    );
    let delivery = format!("demo-{}", uuid::Uuid::new_v4());
    let answer = file_jira_ticket(desk, case.ticket, &delivery).await?;
    println!("    gateway: {answer}");
    println!("  Following {}'s comments:", case.ticket);
    let comments = follow_ticket(desk, case.ticket, Duration::from_secs(300), |comment| {
        let elapsed = started.elapsed().as_secs();
        let mut lines = comment.lines().filter(|l| !l.starts_with("detour-ref: "));
        println!("    [{elapsed:>3}s] {}", lines.next().unwrap_or_default());
        for line in lines {
            println!("            {line}");
        }
    })
    .await?;
    let after = graph.user(user).await?;
    println!("  After: {user} has {}", after["proxyAddresses"]);
    let issue = desk.jira_issue(case.ticket).await?;

    let mut checks: Vec<(String, bool)> = fixed_checks(&before, &after, &address)
        .into_iter()
        .map(|(check, holds)| (format!("{user}: {check}"), holds))
        .collect();
    let status = issue["fields"]["status"]["name"]
        .as_str()
        .unwrap_or_default();
    checks.push((
        format!("{} is Resolved (it is {status})", case.ticket),
        status == "Resolved",
    ));
    let finals = comments.iter().filter(|c| is_final(c)).count();
    checks.push((
        format!("{}: one final comment ({finals})", case.ticket),
        finals == 1,
    ));
    let said = comments.iter().any(|c| c.contains(case.rung));
    checks.push((
        format!(
            "{}'s comments name the rung taken ({})",
            case.ticket, case.rung
        ),
        said,
    ));
    if case.rung != "round trip" {
        let deleted = deletions(&desk.client, tenant, &before["id"]).await?;
        checks.push((
            format!("{user} was never deleted ({deleted} soft deletions)"),
            deleted == 0,
        ));
    }
    let trace_id = trace_id_in(&comments)
        .or_else(|| answer["trace_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((checks, trace_id))
}

/// The administrator's upgrade of Connect, through tenant-sim's own admin API.
async fn upgrade_connect(
    client: &reqwest::Client,
    tenant: &str,
    version: &str,
) -> anyhow::Result<()> {
    let response = client
        .put(format!("{tenant}/_sim/connect"))
        .json(&serde_json::json!({ "version": version }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("tenant-sim refused the upgrade: {}", response.text().await?);
    }
    Ok(())
}

/// How many times tenant-sim soft-deleted the cloud user `id`.
async fn deletions(client: &reqwest::Client, tenant: &str, id: &Value) -> anyhow::Result<u64> {
    let world: Value = client
        .get(format!("{tenant}/_sim/world"))
        .send()
        .await?
        .json()
        .await?;
    let id = id.as_str().unwrap_or_default();
    Ok(world["effects"][id]["soft_deleted"].as_u64().unwrap_or(0))
}

fn text(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{SCENARIO}: expected a string, found {value}"))
}

/// The six services with the dev stack's settings, waits scaled to the demo's pace, and the
/// demo's OTLP receiver.
fn launches(otlp: &str) -> anyhow::Result<Vec<Launch>> {
    let pace = [
        ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "500"),
        ("DETOUR__CONNECT__POLL_INTERVAL_MS", "500"),
        ("DETOUR__SAGA__POLL_EVERY_MS", "1000"),
        ("DETOUR__SAGA__ACTION_DEADLINE_MS", "60000"),
        ("DETOUR__SAGA__WAIT_DEADLINE_MS", "180000"),
        ("DETOUR__SAGA__COMPENSATION_BACKOFF_MS", "2000"),
        ("DETOUR__SAGA__TIMER_TICK_MS", "200"),
        ("DETOUR__TELEMETRY__LOG_FILTER", "info"),
    ];
    Service::ALL
        .into_iter()
        .map(|service| {
            let mut env = services::dev_stack_env(service)?;
            let section = match service {
                Service::SyncTrigger => "DETOUR__CONNECT__",
                Service::SagaCoordinator => "DETOUR__SAGA__",
                _ => "DETOUR__TELEMETRY__",
            };
            env.extend(
                pace.iter()
                    .filter(|(k, _)| k.starts_with(section) || k.starts_with("DETOUR__TELEMETRY__"))
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            env.push((
                "DETOUR__TELEMETRY__OTLP_ENDPOINT".to_owned(),
                otlp.to_owned(),
            ));
            Ok(Launch {
                service,
                port: services::default_port(service),
                env,
            })
        })
        .collect()
}

/// Deletes the scenario's users (wherever an earlier run left them) and groups, so tenant-sim
/// creates them afresh: every run starts from the seed's state.
async fn reset_scenario_objects(stack: &Stack, scenario: &Value) -> anyhow::Result<()> {
    use ldap3::{Scope, SearchEntry};
    let directory = detour_testkit::Directory::from_stack()?;
    let mut ldap = directory.bind_admin().await?;
    let base = stack.get("DETOUR_LDAP_BASE_DN")?;
    let names: Vec<String> = scenario["ad"]["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["sam_account_name"].as_str())
        .map(|sam| format!("(sAMAccountName={})", ldap3::ldap_escape(sam)))
        .collect();
    let (entries, _) = ldap
        .search(
            base,
            Scope::Subtree,
            &format!("(|{})", names.join("")),
            vec!["dn"],
        )
        .await?
        .success()?;
    let mut doomed: Vec<String> = entries
        .into_iter()
        .map(|entry| SearchEntry::construct(entry).dn)
        .collect();
    doomed.extend(
        scenario["ad"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["dn"].as_str().map(str::to_owned)),
    );
    for dn in doomed {
        let result = ldap.delete(&dn).await?;
        // 32: noSuchObject (a group not created yet).
        if result.rc != 0 && result.rc != 32 {
            bail!("cannot delete {dn}: {result}");
        }
    }
    ldap.unbind().await?;
    Ok(())
}

fn start_tenant_sim(
    bin_dir: &Path,
    log_dir: &Path,
    stack: &Stack,
    otlp: &str,
) -> anyhow::Result<Child> {
    if std::net::TcpListener::bind(TENANT_SIM).is_err() {
        bail!("{TENANT_SIM} is taken: is another tenant-sim or demo still running?");
    }
    let log = std::fs::File::create(log_dir.join("tenant-sim.log"))?;
    Command::new(bin_dir.join("tenant-sim"))
        .args(["--scenario", SCENARIO, "--listen", TENANT_SIM])
        .env("DETOUR__AD__URL", stack.get("DETOUR_LDAP_URL")?)
        .env("DETOUR__AD__CA_FILE", stack.get("DETOUR_LDAP_CA_FILE")?)
        .env("DETOUR__AD__BIND_DN", stack.get("DETOUR_LDAP_ADMIN_UPN")?)
        .env(
            "DETOUR__AD__BIND_PASSWORD_FILE",
            stack.get("DETOUR_LDAP_ADMIN_PASSWORD_FILE")?,
        )
        .env("DETOUR__AD__SEARCH_BASE", stack.get("DETOUR_LDAP_BASE_DN")?)
        .env("DETOUR__TELEMETRY__OTLP_ENDPOINT", otlp)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("cannot start tenant-sim (was it built?)")
}

/// Waits until tenant-sim serves its scenario.
async fn wait_for_tenant_sim(sim: &mut Child) -> anyhow::Result<()> {
    let client = detour_system::http_client()?;
    for _ in 0..300 {
        if let Some(status) = sim.try_wait()? {
            bail!("tenant-sim exited ({status}); see demo-logs/tenant-sim.log");
        }
        let world = client
            .get(format!("http://{TENANT_SIM}/_sim/world"))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        if world.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("tenant-sim did not load its scenario within a minute")
}

/// SIGTERM, so tenant-sim flushes its spans; killed if it takes more than ten seconds.
async fn stop_tenant_sim(sim: &mut Child) {
    if let Some(pid) = sim.id() {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(10), sim.wait())
        .await
        .is_err()
    {
        let _ = sim.start_kill();
    }
}
