use time::macros::datetime;

use super::*;

const AD: &str = "corp.example.com";
const AAD: &str = "contoso.onmicrosoft.com - AAD";

fn result(id: u8, connector: &str, profile: &str, minute: u8, result: &str) -> ProfileResult {
    let start = datetime!(2026-12-01 10:00 UTC) + time::Duration::minutes(minute.into());
    let complete = result != "in-progress";
    ProfileResult {
        run_history_id: Uuid::from_bytes([id; 16]),
        connector_name: connector.to_owned(),
        run_profile_name: profile.to_owned(),
        is_run_complete: complete,
        result: result.to_owned(),
        start_date: start,
        end_date: complete.then(|| start + time::Duration::seconds(30)),
        exports: profile.eq("Export").then(|| ConnectorCounters {
            connector_name: connector.to_owned(),
            adds: 0,
            updates: 2,
            deletes: 1,
            errors: 0,
        }),
    }
}

fn full_cycle(first: u8, minute: u8, export_result: &str) -> Vec<ProfileResult> {
    vec![
        result(first, AD, "Delta Import", minute, "success"),
        result(first + 1, AAD, "Delta Import", minute + 1, "success"),
        result(
            first + 2,
            AD,
            "Delta Synchronization",
            minute + 2,
            "success",
        ),
        result(
            first + 3,
            AAD,
            "Delta Synchronization",
            minute + 3,
            "success",
        ),
        result(first + 4, AAD, "Export", minute + 4, export_result),
        result(first + 5, AD, "Export", minute + 5, "success"),
    ]
}

#[test]
fn each_ad_import_starts_a_cycle_named_after_it_with_the_cloud_exports_counts() {
    let mut results = full_cycle(20, 30, "completed-export-errors");
    results.extend(full_cycle(10, 0, "success"));
    let cycles = cycles(results, AD, AAD).unwrap();
    assert_eq!(cycles.len(), 2);
    let (newest, oldest) = (&cycles[0], &cycles[1]);
    assert_eq!(oldest.run_id, Uuid::from_bytes([10; 16]));
    assert_eq!(oldest.outcome, RunOutcome::Success);
    assert_eq!(oldest.start_date, datetime!(2026-12-01 10:00 UTC));
    assert_eq!(oldest.end_date, Some(datetime!(2026-12-01 10:05:30 UTC)));
    assert_eq!(oldest.connectors[0].deletes, 1);
    assert_eq!(oldest.connectors[0].connector_name, AAD);
    assert_eq!(newest.outcome, RunOutcome::CompletedExportErrors);
}

#[test]
fn a_cycle_before_its_cloud_export_is_running() {
    let mut results = full_cycle(10, 0, "success");
    results.truncate(3);
    let cycles = cycles(results, AD, AAD).unwrap();
    assert_eq!(cycles[0].outcome, RunOutcome::InProgress);
    assert_eq!(cycles[0].end_date, None);
    let started = vec![result(10, AD, "Delta Import", 0, "in-progress")];
    assert_eq!(
        super::cycles(started, AD, AAD).unwrap()[0].outcome,
        RunOutcome::InProgress
    );
}

#[test]
fn a_threshold_stop_or_an_unreachable_directory_ends_the_cycle_there() {
    let mut stopped = full_cycle(10, 0, "stopped-deletion-threshold-exceeded");
    stopped.truncate(5);
    assert_eq!(
        cycles(stopped, AD, AAD).unwrap()[0].outcome,
        RunOutcome::StoppedDeletionThresholdExceeded
    );
    let unreachable = vec![result(10, AD, "Delta Import", 0, "stopped-server-down")];
    assert_eq!(
        cycles(unreachable, AD, AAD).unwrap()[0].outcome,
        RunOutcome::NoStartConnection
    );
}

#[test]
fn steps_listed_at_the_same_instant_keep_the_servers_order() {
    let mut results = full_cycle(10, 0, "success");
    for result in &mut results {
        result.start_date = datetime!(2026-12-01 10:00 UTC);
    }
    results.reverse();
    let cycles = cycles(results, AD, AAD).unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].outcome, RunOutcome::Success);
}

#[test]
fn a_full_import_is_an_initial_cycle_and_a_cut_off_head_is_left_out() {
    let mut results = full_cycle(10, 0, "success");
    results.remove(0);
    results.push(result(30, AD, "Full Import", 40, "in-progress"));
    let cycles = cycles(results, AD, AAD).unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].policy_type, PolicyType::Initial);
}

#[test]
fn an_undocumented_result_is_an_error_not_a_guess() {
    let results = vec![result(10, AD, "Delta Import", 0, "exploded")];
    let error = cycles(results, AD, AAD).unwrap_err();
    assert!(error.to_string().contains("exploded"), "{error}");
    assert_eq!(
        outcome("completed-no-objects").unwrap(),
        RunOutcome::Success
    );
    assert_eq!(
        outcome("completed-sync-errors").unwrap(),
        RunOutcome::CompletedExportErrors
    );
}
