//! An approval gate that holds a saga until its own plan is approved, and the cloud-managed
//! path that deletes nothing.

use super::*;

#[test]
fn a_gated_saga_changes_nothing_until_its_own_plan_is_approved() {
    let now = t0();
    let started = step(&Saga::gated(PlanHash::of("plan-a")), Input::Start, now);
    assert!(
        started.commands.is_empty() && started.timers.is_empty(),
        "held before anything runs"
    );
    let held = started.next;
    assert!(matches!(
        held.state,
        State::AwaitingApproval {
            step: Step::Snapshot,
            ..
        }
    ));

    let wrong = step(
        &held,
        Input::Approve {
            plan_hash: PlanHash::of("plan-b"),
        },
        now,
    );
    assert_eq!(
        wrong.next, held,
        "an approval for another plan changes nothing"
    );
    assert!(wrong.commands.is_empty());

    let approved = step(
        &held,
        Input::Approve {
            plan_hash: PlanHash::of("plan-a"),
        },
        now,
    );
    assert_eq!(
        approved.commands,
        vec![Command::Execute {
            step: Step::Snapshot,
            attempt: 1
        }]
    );

    let aborted = step(
        &held,
        Input::Abort {
            reason: "not today".into(),
        },
        now,
    );
    assert!(
        matches!(aborted.next.state, State::Compensated { .. }),
        "nothing was done, so nothing to undo"
    );
    assert!(aborted.commands.is_empty());
}

#[test]
fn the_cloud_managed_path_has_no_deletion_and_undoes_only_its_flag() {
    let cloud = Definition::cloud_managed(timing());
    let now = t0();
    let mut saga = decide(&cloud, &Saga::new(), &Input::Start, now).next;
    for s in [Step::Snapshot, Step::SetCloudManaged] {
        saga = decide(
            &cloud,
            &saga,
            &Input::StepDone {
                step: s,
                attempt: 1,
            },
            now,
        )
        .next;
    }
    let failed = decide(
        &cloud,
        &saga,
        &Input::StepFailed {
            step: Step::AddAddress,
            attempt: 1,
            reason: "ObjectConflict".into(),
        },
        now,
    );
    assert_eq!(
        failed.commands,
        vec![Command::Compensate {
            compensation: Compensation::UnsetCloudManaged,
            index: 0,
            attempt: 1
        }]
    );
    let done = decide(
        &cloud,
        &failed.next,
        &Input::CompensationDone {
            index: 0,
            attempt: 1,
        },
        now,
    );
    assert!(matches!(done.next.state, State::Compensated { .. }));

    let mut saga = decide(&cloud, &Saga::new(), &Input::Start, now).next;
    for s in [
        Step::Snapshot,
        Step::SetCloudManaged,
        Step::AddAddress,
        Step::Verify,
    ] {
        saga = decide(
            &cloud,
            &saga,
            &Input::StepDone {
                step: s,
                attempt: 1,
            },
            now,
        )
        .next;
    }
    assert_eq!(saga.state, State::Completed);
    assert!(!saga.completed.contains(&Step::Descope));
}
