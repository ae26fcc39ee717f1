//! The chaos run (`scripts/chaos`): N remediations while every service is SIGKILLed once and
//! started again, the broker, LDAP and sync-engine links are cut, and sent commands are
//! delivered again (`--sync agent|ssh|cloud-sync` picks how sync-trigger reaches the engine);
//! then the invariants from the real AD and tenant-sim. Prints progress, the figures, and one
//! `chaos:` line; exits non-zero on any violation or stuck saga.

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use detour_system::chaos::{self, ChaosPlan, SyncBackend};

#[derive(Debug, Parser)]
#[command(about = "Remediates N users while killing services and cutting links")]
struct Args {
    #[arg(long, default_value_t = 30)]
    sagas: usize,
    /// Users out of scope at once: few, so the sagas go in batches while faults land.
    #[arg(long, default_value_t = 10)]
    max_descoped: usize,
    /// Seconds between two faults.
    #[arg(long, default_value_t = 3)]
    fault_every_seconds: u64,
    #[arg(long, default_value_t = 2)]
    broker_cuts: usize,
    #[arg(long, default_value_t = 1)]
    ldap_cuts: usize,
    /// How long a cut lasts, in seconds.
    #[arg(long, default_value_t = 4)]
    cut_seconds: u64,
    /// Commands delivered again per second of the run.
    #[arg(long, default_value_t = 3)]
    duplicates_per_second: usize,
    /// Give up waiting for the sagas after this long.
    #[arg(long, default_value_t = 600)]
    timeout_seconds: u64,
    /// How sync-trigger reaches the sync engine.
    #[arg(long, value_enum, default_value_t = SyncBackend::Agent)]
    sync: SyncBackend,
    /// Cuts of sync-trigger's link to the sync engine.
    #[arg(long, default_value_t = 1)]
    sync_cuts: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.sagas == 0 {
        eprintln!("detour-chaos: --sagas must be at least 1");
        return ExitCode::from(64);
    }
    let plan = ChaosPlan {
        sagas: args.sagas,
        max_descoped: args.max_descoped,
        fault_every: Duration::from_secs(args.fault_every_seconds),
        broker_cuts: args.broker_cuts,
        ldap_cuts: args.ldap_cuts,
        cut_for: Duration::from_secs(args.cut_seconds),
        duplicates_per_second: args.duplicates_per_second,
        timeout: Duration::from_secs(args.timeout_seconds),
        sync: args.sync,
        sync_cuts: args.sync_cuts,
    };
    let Some(bin_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::PathBuf::from))
    else {
        eprintln!("detour-chaos: cannot tell where the service binaries are");
        return ExitCode::from(2);
    };
    let logs = bin_dir.join("chaos-logs");
    println!(
        "== chaos: {} remediations; logs in {}",
        plan.sagas,
        logs.display()
    );
    let report = match chaos::run(&plan, &bin_dir, &logs, |line| println!("   {line}")).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("detour-chaos: {error:#}");
            return ExitCode::from(2);
        }
    };
    println!("   statuses: {:?}", report.statuses);
    println!("   effects: {:?}", report.effects);
    println!("   wall: {:.0}s", report.wall.as_secs_f64());
    for saga in &report.unsettled {
        println!("   unsettled: {saga}");
    }
    for violation in &report.violations {
        println!("   violation: {violation}");
    }
    println!("{}", report.line());
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
