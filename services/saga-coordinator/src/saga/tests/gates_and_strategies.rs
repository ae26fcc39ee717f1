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
    let cloud = Definition::cloud_managed(timing(), false);
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

/// The user cloud-managed rung: failing before the hand-back undoes it under the lease, with a
/// sync and a check, and lets go of the lease once at the end; failing after the user is back
/// under AD has nothing left to undo but the lease.
#[test]
fn the_user_cloud_managed_path_goes_back_to_ad_under_the_lease_whatever_fails() {
    let back = Definition::user_cloud_managed(timing(), true);
    let before_hand_back = [
        Step::Snapshot,
        Step::HandToCloud,
        Step::AwaitMailbox,
        Step::AddAddress,
        Step::HoldTakeoverLease,
    ];
    let undo = [
        Compensation::HoldTakeoverLease,
        Compensation::HandBackToAd,
        Compensation::SyncBack,
        Compensation::VerifyRestored,
        Compensation::ReleaseTakeoverLease,
    ];
    assert_eq!(back.compensations_for(&before_hand_back[..2]), undo);
    assert_eq!(back.compensations_for(&before_hand_back), undo);
    let mut back_in_ad = before_hand_back.to_vec();
    back_in_ad.extend([Step::HandBackToAd, Step::SyncIn, Step::AwaitRematch]);
    assert_eq!(
        back.compensations_for(&back_in_ad),
        [Compensation::ReleaseTakeoverLease]
    );
    back_in_ad.push(Step::ReleaseTakeoverLease);
    assert!(back.compensations_for(&back_in_ad).is_empty());

    let stays = Definition::user_cloud_managed(timing(), false);
    assert!(stays.get(Step::HoldTakeoverLease).is_none());
    assert_eq!(
        stays.steps.last().map(|d| d.step),
        Some(Step::VerifyCloudManaged)
    );
    assert_eq!(stays.compensations_for(&before_hand_back[..2]), undo);
}
