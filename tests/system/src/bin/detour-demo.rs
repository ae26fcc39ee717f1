//! The README's main job: the seed's case remediated end to end. It resets the contoso
//! scenario's users in the dev stack's AD, starts tenant-sim with `scenarios/contoso.json`
//! (a hybrid tenant whose group-licensed user Ada lacks her `contoso.mail.onmicrosoft.com`
//! address, a healthy user, and an administrator Detour must refuse), starts the six services,
//! files Jira ticket HELP-42 through the gateway's signed webhook, shows the ticket's comments
//! as they arrive, and ends with the outcome, the comments and the trace id. It exits non-zero
//! unless Ada ends fixed (address present, synced, the same object, the group's licence only),
//! the ticket is resolved with one final comment, and all six services took part in the trace.

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
const TICKET: &str = "HELP-42";
const USER: &str = "ada.lovelace@contoso.com";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
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
        client: reqwest::Client::new(),
        base: tenant.clone(),
        tenant_id: text(&scenario["tenant"]["id"])?,
        client_id: text(&scenario["apps"][0]["client_id"])?,
        secret: text(&scenario["apps"][0]["client_secret"])?,
    };
    let address = format!(
        "{}@{}",
        USER.split('@').next().unwrap_or_default(),
        text(&scenario["tenant"]["coexistence_domain"])?
    );
    let before = graph.user(USER).await?;
    println!(
        "Before: {USER} has {} (cloud object {})",
        before["proxyAddresses"], before["id"]
    );

    let desk = Desk {
        client: reqwest::Client::new(),
        gateway: format!(
            "http://127.0.0.1:{}",
            services::default_port(Service::TicketGateway)
        ),
        tickets: tenant,
        jira_secret: Secret::new(JIRA_WEBHOOK_SECRET),
        webhook_token: Secret::new(WEBHOOK_TOKEN),
    };
    println!("Filing Jira ticket {TICKET} through the gateway's signed webhook");
    let delivery = format!("demo-{}", uuid::Uuid::new_v4());
    let answer = file_jira_ticket(&desk, TICKET, &delivery).await?;
    println!("  gateway: {answer}");
    println!("Following {TICKET}'s comments:");
    let comments = follow_ticket(&desk, TICKET, Duration::from_secs(300), |comment| {
        let elapsed = started.elapsed().as_secs();
        let mut lines = comment.lines().filter(|l| !l.starts_with("detour-ref: "));
        println!("  [{elapsed:>3}s] {}", lines.next().unwrap_or_default());
        for line in lines {
            println!("          {line}");
        }
    })
    .await;

    let after = graph.user(USER).await?;
    let issue = desk.jira_issue(TICKET).await?;
    println!("Stopping the services (SIGTERM) and tenant-sim");
    let codes = fleet.stop(Duration::from_secs(30)).await;
    stop_tenant_sim(&mut sim).await;
    telemetry.flush().await;
    let comments = comments?;

    let mut checks = fixed_checks(&before, &after, &address);
    let status = issue["fields"]["status"]["name"]
        .as_str()
        .unwrap_or_default();
    checks.push((
        format!("{TICKET} is Resolved (it is {status})"),
        status == "Resolved",
    ));
    let finals = comments.iter().filter(|c| is_final(c)).count();
    checks.push((format!("one final comment ({finals})"), finals == 1));
    let trace_id = trace_id_in(&comments)
        .or_else(|| answer["trace_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let spans = spans_by_service(&receiver.spans(), &trace_id);
    for (service, code) in codes {
        let in_trace = spans.get(service.as_str()).copied().unwrap_or(0);
        checks.push((
            format!("{service} exited cleanly ({code:?}) with {in_trace} spans in the trace"),
            code == Some(0) && in_trace > 0,
        ));
    }
    let sim_spans = spans.get("tenant-sim").copied().unwrap_or(0);
    checks.push((
        format!("tenant-sim's server spans joined the trace ({sim_spans})"),
        sim_spans > 0,
    ));
    telemetry.shutdown().await;

    println!("After: {USER} has {}", after["proxyAddresses"]);
    println!("Checks:");
    for (check, holds) in &checks {
        println!("  [{}] {check}", if *holds { " ok " } else { "FAIL" });
    }
    let ok = checks.iter().all(|(_, holds)| *holds);
    println!(
        "Outcome: {}",
        if ok {
            "fixed: the ticket is resolved"
        } else {
            "NOT fixed (see the checks above and the logs)"
        }
    );
    println!("trace_id={trace_id}");
    Ok(ok)
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
    let client = reqwest::Client::new();
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
