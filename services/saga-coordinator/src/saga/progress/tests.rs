//! The milestones each phase change tells a ticket, and their wording.

use super::*;
use crate::saga::{Refusal, Saga, diagnose, diagnosis::sample_facts, messages::SagaFacts};

fn plan() -> Plan {
    match diagnose(&sample_facts()) {
        Diagnosis::Plan(plan) => plan,
        other => panic!("the sample is a plan, not {other:?}"),
    }
}

fn running(state: State, completed: &[Step]) -> Phase {
    Phase::Running {
        plan: plan(),
        facts: sample_saga_facts(),
        saga: Saga {
            state,
            completed: completed.to_vec(),
        },
        seen: None,
    }
}

fn sample_saga_facts() -> SagaFacts {
    SagaFacts {
        object_guid: uuid::Uuid::nil(),
        original_dn: "CN=Ada,OU=Staff,DC=corp".parse().unwrap(),
        parking_ou: "OU=Parked,DC=corp".parse().unwrap(),
        user_principal_name: USER.into(),
        cloud_id: uuid::Uuid::nil(),
        immutable_id: None,
        address: plan().address,
        temporary_sku: uuid::Uuid::nil(),
        usage_location: Some("GB".into()),
        snapshot_usn: None,
        last_sync: None,
        group_licences: Vec::new(),
    }
}

fn keys(milestones: &[Milestone]) -> Vec<&str> {
    milestones.iter().map(|m| m.key.as_str()).collect()
}

const USER: &str = "ada@contoso.com";

#[test]
fn a_plan_under_way_is_announced_with_its_diff() {
    let before = Phase::Diagnosing {
        reads: Default::default(),
    };
    let after = Phase::Queued {
        plan: plan(),
        facts: sample_saga_facts(),
    };
    let reached = milestones(USER, &before, &after);
    assert_eq!(keys(&reached), ["diagnosed"]);
    assert!(
        reached[0]
            .details
            .iter()
            .any(|d| d == "+ smtp:ada@contoso.mail.onmicrosoft.com"),
        "{reached:?}"
    );
}

#[test]
fn every_end_at_diagnosis_is_final() {
    let before = Phase::Diagnosing {
        reads: Default::default(),
    };
    for (after, outcome) in [
        (
            Phase::Diagnosed {
                diagnosis: Diagnosis::Plan(plan()),
            },
            Outcome::Planned,
        ),
        (
            Phase::Diagnosed {
                diagnosis: Diagnosis::NothingToDo {
                    address: detour_contracts::ProxyAddress::parse("smtp:a@b.com").unwrap(),
                },
            },
            Outcome::NothingToDo,
        ),
        (
            Phase::Diagnosed {
                diagnosis: Diagnosis::Refused {
                    refusal: Refusal::AdminRole,
                    detail: "an admin".into(),
                },
            },
            Outcome::Refused,
        ),
        (
            Phase::Undiagnosable {
                reason: "no answer".into(),
            },
            Outcome::Undiagnosable,
        ),
    ] {
        let reached = milestones(USER, &before, &after);
        assert_eq!(keys(&reached), ["final"]);
        assert_eq!(reached[0].stage, Stage::Final(outcome));
    }
}

#[test]
fn a_moera_refused_after_the_routing_address_was_added_says_what_was_added() {
    let added =
        detour_contracts::ProxyAddress::parse("smtp:ada@contoso.mail.onmicrosoft.com").unwrap();
    let reads = crate::saga::Reads {
        earlier: Some(added),
        ..Default::default()
    };
    let before = Phase::Diagnosing { reads };
    let refused = Phase::Diagnosed {
        diagnosis: Diagnosis::Refused {
            refusal: Refusal::NoStrategyAllowed,
            detail: "no rung applies".into(),
        },
    };
    let reached = milestones(USER, &before, &refused);
    let headline = &reached[0].headline;
    assert!(
        headline.starts_with("ada@contoso.mail.onmicrosoft.com was added earlier"),
        "{headline}"
    );
    assert!(headline.contains("Nothing more was changed."), "{headline}");
}

#[test]
fn visible_steps_are_phases_and_completion_is_final() {
    let before = running(
        State::Running {
            step: Step::AwaitRematch,
            attempt: 1,
            deadline: time::OffsetDateTime::UNIX_EPOCH,
        },
        &[Step::Snapshot, Step::AwaitSoftDelete, Step::Restore],
    );
    let after = running(
        State::Completed,
        &[
            Step::Snapshot,
            Step::AwaitSoftDelete,
            Step::Restore,
            Step::AddAddress,
            Step::AwaitRematch,
            Step::Verify,
        ],
    );
    let reached = milestones(USER, &before, &after);
    assert_eq!(
        keys(&reached),
        ["step:address-added", "step:back-in-sync", "final"]
    );
    assert_eq!(reached[2].stage, Stage::Final(Outcome::Fixed));
}

#[test]
fn compensation_is_announced_once_then_its_end_is_final() {
    let compensating = |index| {
        running(
            State::Compensating {
                plan: vec![crate::saga::Compensation::MoveBack; 2],
                index,
                attempt: 1,
                reason: "restore failed".into(),
                deadline: None,
            },
            &[],
        )
    };
    let started = running(
        State::Running {
            step: Step::Restore,
            attempt: 1,
            deadline: time::OffsetDateTime::UNIX_EPOCH,
        },
        &[],
    );
    assert_eq!(
        keys(&milestones(USER, &started, &compensating(0))),
        ["compensating"]
    );
    assert!(milestones(USER, &compensating(0), &compensating(1)).is_empty());
    let done = running(
        State::Compensated {
            reason: "restore failed".into(),
        },
        &[],
    );
    let reached = milestones(USER, &compensating(1), &done);
    assert_eq!(reached[0].stage, Stage::Final(Outcome::Compensated));
    assert!(reached[0].headline.contains("without"), "{reached:?}");
}

#[test]
fn the_final_word_follows_what_was_last_seen_of_the_user_not_the_path() {
    let undoing = running(
        State::Compensating {
            plan: vec![crate::saga::Compensation::VerifyRestored],
            index: 0,
            attempt: 1,
            reason: "SyncIn failed".into(),
            deadline: None,
        },
        &[],
    );
    let undone = |seen| {
        let Phase::Running {
            plan, facts, saga, ..
        } = running(
            State::Compensated {
                reason: "SyncIn failed".into(),
            },
            &[],
        )
        else {
            unreachable!()
        };
        Phase::Running {
            plan,
            facts,
            saga,
            seen: Some(seen),
        }
    };
    // The address was added before the failure, and the user re-matched all the same.
    let fixed = Seen {
        has_address: true,
        synced_as_before: true,
    };
    let reached = milestones(USER, &undoing, &undone(fixed));
    assert_eq!(
        reached[0].stage,
        Stage::Final(Outcome::Fixed),
        "{reached:?}"
    );
    assert!(reached[0].headline.starts_with("Fixed:"));

    let unsynced = Seen {
        has_address: true,
        synced_as_before: false,
    };
    let reached = milestones(USER, &undoing, &undone(unsynced));
    assert_eq!(reached[0].stage, Stage::Final(Outcome::Compensated));
    assert!(!reached[0].headline.contains("without"), "{reached:?}");
}

#[test]
fn the_same_phase_reaches_nothing() {
    let phase = running(State::Completed, &[]);
    assert!(milestones(USER, &phase, &phase).is_empty());
}
