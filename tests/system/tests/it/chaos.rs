//! The chaos run, short (`scripts/chaos` is the long one): a handful of remediations asked
//! for by Jira webhooks while each of the six services is SIGKILLed once and started again,
//! the broker, LDAP and sync-engine links are cut once each, and webhooks and commands are
//! delivered again; on each of the three ways sync-trigger reaches a sync engine. Every user
//! ends fixed or put back as before, nobody is left out of scope, no saga is stuck, and each
//! ticket has one final comment.

use std::time::Duration;

use detour_contracts::Service;
use detour_system::{
    chaos::{self, ChaosPlan, SyncBackend},
    fleet::build_debug_binaries,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediations_survive_kills_cuts_and_duplicates() {
    survives(SyncBackend::Agent).await;
}

/// The same on a Connect server reached over SSH, whose link is cut mid-run as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediations_survive_kills_cuts_and_duplicates_over_ssh() {
    survives(SyncBackend::Ssh).await;
}

/// The same on a Cloud Sync tenant: deletions on the job's schedule, returns on demand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediations_survive_kills_cuts_and_duplicates_on_cloud_sync() {
    survives(SyncBackend::CloudSync).await;
}

async fn survives(sync: SyncBackend) {
    let bin_dir = build_debug_binaries(&Service::ALL, &std::env::current_exe().unwrap()).unwrap();
    let logs = std::env::temp_dir().join(format!("detour-chaos-{}", uuid::Uuid::new_v4().simple()));
    let plan = ChaosPlan {
        sagas: 8,
        max_descoped: 4,
        fault_every: Duration::from_secs(2),
        broker_cuts: 1,
        ldap_cuts: 1,
        sync_cuts: 1,
        cut_for: Duration::from_secs(3),
        duplicates_per_second: 3,
        timeout: Duration::from_secs(90),
        sync,
    };
    let report = chaos::run(&plan, &bin_dir, &logs, |line| eprintln!("{line}"))
        .await
        .unwrap();
    assert!(
        report.clean(),
        "{}\n{:?}\n{:?}\n{:?}\nlogs in {}",
        report.line(),
        report.violations,
        report.statuses,
        report.unsettled,
        logs.display()
    );
    assert_eq!(
        (
            report.kills,
            report.broker_cuts,
            report.ldap_cuts,
            report.sync_cuts
        ),
        (6, 1, 1, 1)
    );
    assert!(report.duplicates > 0);
    // The effects were counted (so "none twice" means something): one restore per user.
    assert_eq!(
        report.effects.get("restored"),
        Some(&(plan.sagas as u64)),
        "{:?}",
        report.effects
    );
    let _ = std::fs::remove_dir_all(&logs);
}
