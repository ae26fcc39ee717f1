//! The step mapping and answer reading, checked against hand-built answers.

use detour_contracts::{
    cloud_directory::{CloudUserState, LicenseAssignment},
    connect_agent::{ObjectOutcome, ObjectResult, RunOutcome},
    mailbox_ops::MailboxState,
    sync_trigger::{RunSeen, RunStats},
};

use super::*;

fn facts() -> SagaFacts {
    SagaFacts {
        object_guid: Uuid::from_u128(1),
        original_dn: "CN=Ada,OU=Staff,DC=contoso,DC=test".parse().unwrap(),
        parking_ou: "OU=Parking,DC=contoso,DC=test".parse().unwrap(),
        user_principal_name: "ada@contoso.test".into(),
        cloud_id: Uuid::from_u128(2),
        immutable_id: Some("anchor".into()),
        address: detour_contracts::ProxyAddress::parse("smtp:ada@contoso.mail.onmicrosoft.com")
            .unwrap(),
        temporary_sku: Uuid::from_u128(3),
        usage_location: Some("GB".into()),
        snapshot_usn: None,
        last_sync: None,
        group_licences: Vec::new(),
    }
}

fn cycle(outcome: RunOutcome, object: Option<ObjectOutcome>) -> StepEvent {
    runs(&[(outcome, object)])
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-12-01 09:00 UTC)
}

/// The runs since the saga's change, oldest first, each with its outcome for the user.
fn runs(runs: &[(RunOutcome, Option<ObjectOutcome>)]) -> StepEvent {
    let seen = runs
        .iter()
        .enumerate()
        .map(|(index, (outcome, object))| RunSeen {
            run_id: Uuid::from_u128(9 + index as u128),
            policy_type: PolicyType::Delta,
            outcome: *outcome,
            start_date: time::macros::datetime!(2026-12-01 09:00 UTC),
            objects: object
                .map(|outcome| ObjectResult {
                    object_guid: facts().object_guid,
                    distinguished_name: facts().original_dn.to_string(),
                    outcome,
                    cloud_object_id: Some(facts().cloud_id),
                    detail: "what the run did".into(),
                })
                .into_iter()
                .collect(),
            stats: RunStats::default(),
        })
        .collect();
    StepEvent::SyncCycleCompleted(SyncCycleCompleted {
        runs: seen,
        requests_coalesced: 1,
    })
}

/// The user as it should be at the end: synced, same object and anchor, address present,
/// licences from groups only.
fn healthy_user() -> CloudUserState {
    CloudUserState {
        id: facts().cloud_id,
        user_principal_name: facts().user_principal_name,
        mail_nickname: Some("ada".into()),
        on_premises_sync_enabled: Some(true),
        on_premises_immutable_id: facts().immutable_id,
        on_premises_distinguished_name: Some(facts().original_dn.to_string()),
        proxy_addresses: vec![
            "SMTP:ada@contoso.test".into(),
            "smtp:ADA@contoso.mail.onmicrosoft.com".into(),
        ],
        usage_location: Some("GB".into()),
        licenses: vec![LicenseAssignment {
            sku_id: Uuid::from_u128(4),
            assigned_by_group: Some(Uuid::from_u128(5)),
            state: "Active".into(),
        }],
        admin_roles: None,
        provisioning_errors: Vec::new(),
        on_premises_last_sync: None,
    }
}

fn read(user: Option<CloudUserState>) -> StepEvent {
    StepEvent::CloudUserRead(CloudUserRead {
        requested: facts().cloud_id.to_string(),
        user,
    })
}

fn mailbox(recipient_type_details: &str, is_dir_synced: bool) -> StepEvent {
    StepEvent::MailboxRead(MailboxRead {
        identity: facts().user_principal_name,
        mailbox: Some(MailboxState {
            external_directory_object_id: facts().cloud_id,
            primary_smtp_address: "ada@contoso.test".into(),
            email_addresses: vec![],
            recipient_type_details: recipient_type_details.into(),
            is_dir_synced,
            is_exchange_cloud_managed: false,
        }),
    })
}

#[test]
fn steps_ask_the_right_service_about_the_right_object() {
    let facts = SagaFacts {
        snapshot_usn: Some(4711),
        ..facts()
    };
    // The descope is fenced on the snapshot: a late copy cannot move the user again.
    assert_eq!(
        step_command(Step::Descope, &facts, now()),
        StepCommand::MoveUser(MoveUser {
            object_guid: facts.object_guid,
            target_ou: facts.parking_ou.clone(),
            only_if_usn_changed: Some(4711),
        })
    );
    assert_eq!(
        step_command(Step::Rescope, &facts, now()),
        StepCommand::MoveUserToDn(MoveUserToDn {
            object_guid: facts.object_guid,
            distinguished_name: facts.original_dn.clone()
        })
    );
    assert_eq!(
        step_command(Step::SyncOut, &facts, now()),
        StepCommand::RequestSyncCycle(RequestSyncCycle {
            objects: vec![facts.object_guid],
            policy_type: PolicyType::Delta,
            since: now(),
            // Where the descope put it: the parking OU, under its own name.
            located_at: [(
                facts.object_guid,
                facts.original_dn.with_parent(&facts.parking_ou)
            )]
            .into(),
            provision_on_demand: false,
        })
    );
    // Back in scope after the restore, the live user may come back on demand; undoing a
    // descope, whose restore may never have happened, waits for a scheduled cycle.
    let on_demand = |command: StepCommand| match command {
        StepCommand::RequestSyncCycle(request) => request.provision_on_demand,
        other => panic!("not a sync request: {other:?}"),
    };
    assert!(on_demand(step_command(Step::SyncIn, &facts, now())));
    assert!(!on_demand(compensation_command(
        Compensation::SyncBack,
        &facts,
        now()
    )));
    assert!(
        matches!(step_command(Step::Restore, &facts, now()), StepCommand::RestoreUser(r) if r.id == facts.cloud_id && !r.auto_reconcile_proxy_conflict)
    );
    assert!(
        matches!(step_command(Step::AddAddress, &facts, now()), StepCommand::AddEmailAddress(a) if a.address == facts.address)
    );
    assert!(
        matches!(step_command(Step::DropTemporaryLicense, &facts, now()), StepCommand::RemoveLicense(r) if r.sku_id == facts.temporary_sku)
    );
}

#[test]
fn compensations_undo_what_their_steps_did() {
    let facts = facts();
    assert_eq!(
        compensation_command(Compensation::MoveBack, &facts, now()),
        step_command(Step::Rescope, &facts, now())
    );
    assert_eq!(
        compensation_command(Compensation::RemoveTemporaryLicense, &facts, now()),
        step_command(Step::DropTemporaryLicense, &facts, now())
    );
    assert!(matches!(
        compensation_command(Compensation::UnsetCloudManaged, &facts, now()),
        StepCommand::SetExchangeCloudManaged(SetExchangeCloudManaged { value: false, .. })
    ));
}

#[test]
fn sync_out_must_delete_this_user_and_not_hit_the_threshold() {
    let facts = facts();
    assert_eq!(
        interpret(
            Step::SyncOut,
            &cycle(RunOutcome::Success, Some(ObjectOutcome::Deleted)),
            &facts
        ),
        StepAnswer::Done
    );
    let stopped = interpret(
        Step::SyncOut,
        &cycle(
            RunOutcome::StoppedDeletionThresholdExceeded,
            Some(ObjectOutcome::Error),
        ),
        &facts,
    );
    assert!(matches!(stopped, StepAnswer::Failed(why) if why.contains("threshold")));
    // A run that stopped, then one (after the threshold was raised) that deleted the user.
    let later = runs(&[
        (
            RunOutcome::StoppedDeletionThresholdExceeded,
            Some(ObjectOutcome::Error),
        ),
        (RunOutcome::Success, Some(ObjectOutcome::Deleted)),
    ]);
    assert_eq!(interpret(Step::SyncOut, &later, &facts), StepAnswer::Done);
}

#[test]
fn a_sync_step_whose_work_an_earlier_cycle_did_is_done_and_left_to_the_next_read() {
    let facts = facts();
    // The move was exported by a cycle another saga (or the scheduler) started: the runs
    // since report the user filtered or not at all. The step is done; the wait after it
    // (deleted items, or the same object synced again) reads the cloud to confirm.
    for answer in [
        cycle(RunOutcome::Success, None),
        cycle(RunOutcome::Success, Some(ObjectOutcome::Filtered)),
        runs(&[(RunOutcome::Success, None), (RunOutcome::Success, None)]),
    ] {
        assert_eq!(interpret(Step::SyncOut, &answer, &facts), StepAnswer::Done);
        assert_eq!(interpret(Step::SyncIn, &answer, &facts), StepAnswer::Done);
    }
    let error = interpret(
        Step::SyncOut,
        &cycle(
            RunOutcome::CompletedExportErrors,
            Some(ObjectOutcome::Error),
        ),
        &facts,
    );
    assert!(matches!(error, StepAnswer::Failed(why) if why.contains("what the run did")));
}

#[test]
fn sync_in_must_match_never_add_a_second_object() {
    let facts = facts();
    assert_eq!(
        interpret(
            Step::SyncIn,
            &cycle(RunOutcome::Success, Some(ObjectOutcome::Matched)),
            &facts
        ),
        StepAnswer::Done
    );
    let added = interpret(
        Step::SyncIn,
        &cycle(RunOutcome::Success, Some(ObjectOutcome::Added)),
        &facts,
    );
    assert!(matches!(added, StepAnswer::Failed(why) if why.contains("second cloud object")));
    // A duplicate in any run since the move counts, even if a later run only updated it.
    let added_then_updated = runs(&[
        (RunOutcome::Success, Some(ObjectOutcome::Added)),
        (RunOutcome::Success, Some(ObjectOutcome::Updated)),
    ]);
    assert!(matches!(
        interpret(Step::SyncIn, &added_then_updated, &facts),
        StepAnswer::Failed(_)
    ));
    // The newest word wins otherwise: an export error then a match is a match.
    let error_then_matched = runs(&[
        (
            RunOutcome::CompletedExportErrors,
            Some(ObjectOutcome::Error),
        ),
        (RunOutcome::Success, Some(ObjectOutcome::Matched)),
    ]);
    assert_eq!(
        interpret(Step::SyncIn, &error_then_matched, &facts),
        StepAnswer::Done
    );
}

#[test]
fn waits_are_not_yet_until_their_condition_holds() {
    let facts = facts();
    let gone = StepEvent::DeletedUserRead(DeletedUserRead {
        id: facts.cloud_id,
        user: None,
    });
    assert!(matches!(
        interpret(Step::AwaitSoftDelete, &gone, &facts),
        StepAnswer::NotYet(_)
    ));
    assert!(matches!(
        interpret(Step::AwaitMailbox, &mailbox("MailUser", false), &facts),
        StepAnswer::NotYet(_)
    ));
    assert!(matches!(
        interpret(Step::AwaitMailbox, &mailbox("UserMailbox", true), &facts),
        StepAnswer::NotYet(_)
    ));
    assert_eq!(
        interpret(Step::AwaitMailbox, &mailbox("UserMailbox", false), &facts),
        StepAnswer::Done
    );
    let cloud_only = CloudUserState {
        on_premises_sync_enabled: None,
        ..healthy_user()
    };
    assert!(matches!(
        interpret(Step::AwaitRematch, &read(Some(cloud_only)), &facts),
        StepAnswer::NotYet(_)
    ));
    assert_eq!(
        interpret(Step::AwaitRematch, &read(Some(healthy_user())), &facts),
        StepAnswer::Done
    );
}

#[test]
fn the_temporary_licence_stays_until_the_group_licences_are_back() {
    let facts = SagaFacts {
        group_licences: vec![Uuid::from_u128(4)],
        ..facts()
    };
    let joined_without_groups = CloudUserState {
        licenses: vec![LicenseAssignment {
            sku_id: Uuid::from_u128(4),
            assigned_by_group: None,
            state: "Active".into(),
        }],
        ..healthy_user()
    };
    let waiting = interpret(
        Step::AwaitRematch,
        &read(Some(joined_without_groups)),
        &facts,
    );
    assert!(
        matches!(&waiting, StepAnswer::NotYet(why) if why.contains("group licences")),
        "{waiting:?}"
    );
    assert_eq!(
        interpret(Step::AwaitRematch, &read(Some(healthy_user())), &facts),
        StepAnswer::Done
    );
}

#[test]
fn verify_names_every_problem_it_finds() {
    let facts = facts();
    assert_eq!(
        interpret(Step::Verify, &read(Some(healthy_user())), &facts),
        StepAnswer::Done
    );
    let broken = CloudUserState {
        on_premises_immutable_id: Some("other".into()),
        proxy_addresses: vec!["SMTP:ada@contoso.test".into()],
        licenses: vec![LicenseAssignment {
            sku_id: facts.temporary_sku,
            assigned_by_group: None,
            state: "Active".into(),
        }],
        ..healthy_user()
    };
    // Reads lag writes: what is wrong is "not yet", named, until the step's deadline.
    let StepAnswer::NotYet(why) = interpret(Step::Verify, &read(Some(broken)), &facts) else {
        panic!("a broken user verified")
    };
    for problem in ["source anchor", "address is missing", "direct licence"] {
        assert!(why.contains(problem), "{why} should mention {problem}");
    }
    assert!(matches!(
        interpret(Step::Verify, &read(None), &facts),
        StepAnswer::NotYet(_)
    ));
}

#[test]
fn failures_and_stray_answers_never_count_as_success() {
    let facts = facts();
    let refused = StepEvent::CloudFailed(CloudCommandFailed {
        command: "restore-user".into(),
        kind: detour_contracts::cloud_directory::CloudFailureKind::Conflict,
        reason: "proxy address conflict".into(),
    });
    assert!(
        matches!(interpret(Step::Restore, &refused, &facts), StepAnswer::Failed(why) if why.contains("proxy address conflict"))
    );
    let stray = cycle(RunOutcome::Success, Some(ObjectOutcome::Deleted));
    assert!(matches!(
        interpret(Step::AddAddress, &stray, &facts),
        StepAnswer::Failed(_)
    ));
}

#[test]
fn compensation_answers_are_read_for_putting_the_user_back() {
    let facts = facts();
    let untouched = cycle(RunOutcome::Success, None);
    assert_eq!(
        interpret_compensation(Compensation::SyncBack, &untouched, &facts),
        StepAnswer::Done
    );
    let duplicate = cycle(RunOutcome::Success, Some(ObjectOutcome::Added));
    assert!(matches!(
        interpret_compensation(Compensation::SyncBack, &duplicate, &facts),
        StepAnswer::Failed(_)
    ));
    let cloud_only = CloudUserState {
        on_premises_sync_enabled: None,
        ..healthy_user()
    };
    assert!(matches!(
        interpret_compensation(
            Compensation::VerifyRestored,
            &read(Some(cloud_only)),
            &facts
        ),
        StepAnswer::NotYet(_)
    ));
    assert_eq!(
        interpret_compensation(
            Compensation::VerifyRestored,
            &read(Some(healthy_user())),
            &facts
        ),
        StepAnswer::Done
    );
    let unset = |value| {
        StepEvent::ExchangeCloudManagedSet(ExchangeCloudManagedSet {
            identity: facts.user_principal_name.clone(),
            value,
            already: false,
        })
    };
    assert_eq!(
        interpret_compensation(Compensation::UnsetCloudManaged, &unset(false), &facts),
        StepAnswer::Done
    );
    assert!(matches!(
        interpret_compensation(Compensation::UnsetCloudManaged, &unset(true), &facts),
        StepAnswer::Failed(_)
    ));
}
