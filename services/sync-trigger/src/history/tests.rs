//! Which runs answer which request, whoever started them.

use detour_contracts::connect_agent::{ConnectorCounters, ObjectOutcome};
use time::macros::datetime;

use super::*;

fn at(second: i64) -> OffsetDateTime {
    datetime!(2026-12-01 09:00:00 UTC) + time::Duration::seconds(second)
}

fn run(id: u128, start: i64, end: Option<i64>, objects: &[(u128, ObjectOutcome)]) -> RunResult {
    RunResult {
        run_id: Uuid::from_u128(id),
        policy_type: PolicyType::Delta,
        outcome: if end.is_some() {
            RunOutcome::Success
        } else {
            RunOutcome::InProgress
        },
        start_date: at(start),
        end_date: end.map(at),
        connectors: vec![ConnectorCounters {
            connector_name: "contoso - AAD".into(),
            adds: 0,
            updates: 0,
            deletes: objects.len() as u32,
            errors: 0,
        }],
        objects: objects
            .iter()
            .map(|(guid, outcome)| ObjectResult {
                object_guid: Uuid::from_u128(*guid),
                distinguished_name: format!("CN=u{guid},OU=Parked"),
                outcome: *outcome,
                cloud_object_id: None,
                detail: String::new(),
            })
            .collect(),
    }
}

fn history(runs: &[RunResult], oldest_since: OffsetDateTime) -> History {
    let mut history = History::default();
    history.relist(runs.iter().map(Listed::of).collect(), Some(oldest_since));
    for id in history.to_fetch(oldest_since) {
        let full = runs.iter().find(|r| r.run_id == id).unwrap().clone();
        history.fetched(CompletedRun::new(full).unwrap());
    }
    history
}

#[test]
fn a_run_that_started_before_the_change_neither_answers_nor_covers_it() {
    let runs = [run(1, 0, Some(10), &[(7, ObjectOutcome::Updated)])];
    let history = history(&runs, at(5));
    assert!(!history.covers(at(5)), "a new cycle is needed");
    assert!(history.answer(at(5)).is_none());
}

#[test]
fn a_running_cycle_that_started_after_the_change_covers_it_until_it_answers() {
    let mut runs = vec![run(1, 6, None, &[])];
    let waiting = history(&runs, at(5));
    assert!(waiting.covers(at(5)) && waiting.running());
    assert!(waiting.answer(at(5)).is_none(), "not before it completes");
    runs[0] = run(1, 6, Some(9), &[(7, ObjectOutcome::Deleted)]);
    let answered = history(&runs, at(5)).answer(at(5)).unwrap();
    let seen = answered[0].seen_by(&[Uuid::from_u128(7)]);
    assert_eq!(seen.objects[0].outcome, ObjectOutcome::Deleted);
}

#[test]
fn every_run_that_ended_after_the_change_is_in_the_answer_oldest_first() {
    // Run 1 started before the change but exported it (it ended after); run 2, started
    // after, found nothing left to do for the object. Both are reported.
    let runs = [
        run(2, 12, Some(14), &[(8, ObjectOutcome::Updated)]),
        run(1, 0, Some(10), &[(7, ObjectOutcome::Deleted)]),
        run(0, -20, Some(-10), &[(7, ObjectOutcome::Added)]),
    ];
    let answer = history(&runs, at(5)).answer(at(5)).unwrap();
    let ids: Vec<Uuid> = answer.iter().map(|r| r.run_id).collect();
    assert_eq!(ids, [Uuid::from_u128(1), Uuid::from_u128(2)]);
    let asked = [Uuid::from_u128(7)];
    assert_eq!(answer[0].seen_by(&asked).objects.len(), 1);
    assert!(
        answer[1].seen_by(&asked).objects.is_empty(),
        "only its own objects"
    );
}

#[test]
fn a_run_listed_but_not_fetched_holds_the_answer_back() {
    let runs = [run(1, 6, Some(9), &[])];
    let mut history = History::default();
    history.relist(runs.iter().map(Listed::of).collect(), Some(at(5)));
    assert_eq!(history.to_fetch(at(5)), [Uuid::from_u128(1)]);
    assert!(history.answer(at(5)).is_none());
}

#[test]
fn runs_no_waiting_request_needs_are_forgotten() {
    let runs = [run(1, 6, Some(9), &[(7, ObjectOutcome::Deleted)])];
    let mut history = history(&runs, at(5));
    history.relist(runs.iter().map(Listed::of).collect(), Some(at(20)));
    assert!(history.fetched.is_empty());
    history.relist(runs.iter().map(Listed::of).collect(), None);
    assert!(history.fetched.is_empty());
}
