//! The bulk benchmark (`scripts/bulk --users N`): N users in one tenant all lack their
//! coexistence address, N remediations are started at once through the operator API, and the
//! five services (release binaries, real processes on the real broker, tenant-sim over the
//! real Samba AD) fix them. It prints progress while it runs and, for each N, the figures and
//! one `bulk:` line: users fixed (judged from the tenant's state), compensated, cycles against
//! the bound ⌈N/max_descoped⌉+1, wall time against the floor "cycles × cycle length + the
//! slowest per-user wait", Graph and Exchange requests and 429s, the most users ever out of
//! scope, and the largest RSS of any service.

use std::{
    collections::BTreeMap,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::Parser;
use detour_contracts::Service;
use detour_system::{
    bulk::{self, Operator, PROGRESS_EVERY, Pace, SETTLED},
    fleet::Fleet,
};
use detour_testkit::{TestSqlite, TestVhost};
use tenant_sim::fixture::TenantFixture;
use tokio::sync::Semaphore;

#[derive(Debug, Parser)]
#[command(about = "Remediates N users at once and prints the figures")]
struct Args {
    /// How many users, e.g. `--users 50,200,1000`; each N is a run of its own.
    #[arg(long, value_delimiter = ',', default_value = "50")]
    users: Vec<usize>,
    /// The simulated Connect cycle's length.
    #[arg(long, default_value_t = 10.0)]
    cycle_seconds: f64,
    /// How long a mailbox takes to come back once licensed.
    #[arg(long, default_value_t = 2.0)]
    mailbox_seconds: f64,
    #[arg(long, default_value_t = 400)]
    max_descoped: usize,
    /// Give up on a run after this long.
    #[arg(long, default_value_t = 1800)]
    timeout_seconds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut all_met = true;
    for &users in &args.users {
        match run(&args, users).await {
            Ok(met) => all_met &= met,
            Err(error) => {
                eprintln!("detour-bulk: N={users}: {error:#}");
                return ExitCode::from(2);
            }
        }
    }
    if all_met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The most seen while the run went on.
#[derive(Debug, Default)]
struct Peaks {
    out_of_scope: usize,
    rss_mib: BTreeMap<Service, u64>,
    cpu_seconds: BTreeMap<Service, f64>,
}

async fn run(args: &Args, count: usize) -> anyhow::Result<bool> {
    let pace = Pace {
        cycle_seconds: args.cycle_seconds,
        mailbox_seconds: args.mailbox_seconds,
    };
    println!("== N={count}: seeding {count} users in AD and the tenant");
    let seeding = Instant::now();
    let tenant = bulk::crowd(count, pace).await;
    let names = bulk::names(count);
    let before = bulk::snapshot(&tenant, &names).await?;
    println!("   seeded in {:.0}s", seeding.elapsed().as_secs_f64());

    let vhost = TestVhost::create("bulk").await?;
    let store = TestSqlite::create("bulk")?;
    let store_path = store.url.trim_start_matches("sqlite://").to_owned();
    let launches = bulk::launches(&tenant, &vhost, store_path.as_ref(), args.max_descoped)?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(std::path::PathBuf::from)
        .context("no binary directory")?;
    let mut fleet = Fleet::start(&bin_dir, &launches, &bin_dir.join("bulk-logs"))?;
    fleet.wait_ready(Duration::from_secs(60), |_, _| {}).await?;
    let operator = Operator {
        client: detour_system::http_client()?,
        api: format!(
            "http://127.0.0.1:{}/api/v1",
            detour_system::services::default_port(Service::SagaCoordinator)
        ),
    };
    let runs_before = tenant.runs().await.len();
    let traffic_before = bulk::traffic(&tenant).await?;

    println!("   starting {count} remediations through the operator API");
    let started = Instant::now();
    start_all(&operator, &tenant, &names).await?;
    let mut peaks = Peaks::default();
    let settled = watch(args, &operator, &tenant, &fleet, count, started, &mut peaks).await?;
    let wall = started.elapsed().as_secs_f64();

    let traffic = bulk::traffic(&tenant).await?;
    let cycles = tenant.runs().await.len() - runs_before;
    let counts = operator.counts().await?;
    let fixed = bulk::fixed_users(&tenant, &before).await?.len();
    let _ = fleet.stop(Duration::from_secs(30)).await;

    let compensated = counts.get("compensated").copied().unwrap_or(0);
    let bound = count.div_ceil(args.max_descoped) + 1;
    let floor = cycles as f64 * args.cycle_seconds + args.mailbox_seconds;
    let requests = |api: &str, field: &str| {
        let now = traffic[api][field].as_u64().unwrap_or(0);
        now - traffic_before[api][field].as_u64().unwrap_or(0)
    };
    let max_rss = peaks.rss_mib.values().copied().max().unwrap_or(0);
    println!(
        "   statuses: {counts:?}{}",
        if settled { "" } else { " (timed out)" }
    );
    println!(
        "   Graph: {} requests, {} throttled; Exchange: {} requests, {} throttled",
        requests("graph", "requests"),
        requests("graph", "throttled"),
        requests("exchange", "requests"),
        requests("exchange", "throttled"),
    );
    let rss: Vec<String> = peaks
        .rss_mib
        .iter()
        .map(|(service, mib)| format!("{service} {mib}"))
        .collect();
    println!("   peak RSS (MiB): {}", rss.join(", "));
    let cpu: Vec<String> = peaks
        .cpu_seconds
        .iter()
        .map(|(service, seconds)| format!("{service} {seconds:.1}"))
        .collect();
    println!("   CPU (s): {}", cpu.join(", "));
    println!(
        "bulk: users={count} fixed={fixed} compensated={compensated} cycles={cycles} \
         bound={bound} wall_s={wall:.0} floor_s={floor:.0} peak_out_of_scope={} \
         max_rss_mib={max_rss}",
        peaks.out_of_scope
    );
    Ok(settled
        && fixed == count
        && compensated == 0
        && cycles <= bound
        && peaks.out_of_scope <= args.max_descoped)
}

/// Starts a remediation for every user, a few requests at a time.
async fn start_all(
    operator: &Operator,
    tenant: &TenantFixture,
    names: &[String],
) -> anyhow::Result<()> {
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for name in names {
        let (operator, user, gate) = (operator.clone(), tenant.upn(name), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await?;
            operator.start(&user).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

/// Samples the run until every remediation has settled (or the timeout), printing progress.
/// Returns whether all settled.
async fn watch(
    args: &Args,
    operator: &Operator,
    tenant: &TenantFixture,
    fleet: &Fleet,
    count: usize,
    started: Instant,
    peaks: &mut Peaks,
) -> anyhow::Result<bool> {
    let deadline = started + Duration::from_secs(args.timeout_seconds);
    let runs_before = tenant.runs().await.len();
    let mut next_line = Instant::now();
    loop {
        let out_of_scope = bulk::out_of_scope(tenant).await?;
        peaks.out_of_scope = peaks.out_of_scope.max(out_of_scope);
        for (service, pid) in fleet.pids() {
            let rss = peaks.rss_mib.entry(service).or_default();
            *rss = (*rss).max(bulk::rss_mib(pid));
            let cpu = peaks.cpu_seconds.entry(service).or_default();
            *cpu = cpu.max(bulk::cpu_seconds(pid));
        }
        let counts = operator.counts().await?;
        let settled: u64 = SETTLED
            .iter()
            .filter_map(|status| counts.get(*status))
            .sum();
        if Instant::now() >= next_line || settled as usize >= count {
            let cycles = tenant.runs().await.len() - runs_before;
            println!(
                "   [{:>4.0}s] settled {settled}/{count}, cycles {cycles}, out of scope {} \
                 (peak {}), {counts:?}",
                started.elapsed().as_secs_f64(),
                out_of_scope,
                peaks.out_of_scope,
            );
            next_line = Instant::now() + PROGRESS_EVERY;
        }
        if settled as usize >= count {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
