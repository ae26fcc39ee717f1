//! The step mapping and answer reading, checked against hand-built answers.

use detour_contracts::{
    cloud_directory::{CloudUserState, LicenseAssignment},
    connect_agent::ObjectResult,
    mailbox_ops::MailboxState,
    sync_trigger::RunStats,
};

use super::*;

fn facts() -> SagaFacts {
    SagaFacts {
        object_guid: Uuid::from_u128(1),
        original_dn: "CN=Ada,OU=Staff,DC=contoso,DC=test".into(),
        parking_ou: "OU=Parking,DC=contoso,DC=test".into(),
        user_principal_name: "ada@contoso.test".into(),
        cloud_id: Uuid::from_u128(2),
        immutable_id: Some("anchor".into()),
        address: "smtp:ada@contoso.mail.onmicrosoft.com".into(),
        temporary_sku: Uuid::from_u128(3),
        usage_location: Some("GB".into()),
    }
}

fn cycle(outcome: RunOutcome, object: Option<ObjectOutcome>) -> StepEvent {
    let objects = object.map(|outcome| ObjectResult {
        object_guid: facts().object_guid,
        distinguished_name: facts().original_dn,
        outcome,
        cloud_object_id: Some(facts().cloud_id),
        detail: String::new(),
    });
    StepEvent::SyncCycleCompleted(SyncCycleCompleted {
        run_id: Uuid::from_u128(9),
        policy_type: PolicyType::Delta,
        outcome,
        objects: objects.into_iter().collect(),
        stats: RunStats::default(),
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
        on_premises_distinguished_name: Some(facts().original_dn),
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
        admin_roles: vec![],
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
    let facts = facts();
    assert_eq!(
        step_command(Step::Descope, &facts),
        StepCommand::MoveUser(MoveUser {
            object_guid: facts.object_guid,
            target_ou: facts.parking_ou.clone()
        })
    );
    assert_eq!(
        step_command(Step::Rescope, &facts),
        StepCommand::MoveUserToDn(MoveUserToDn {
            object_guid: facts.object_guid,
            distinguished_name: facts.original_dn.clone()
        })
    );
    assert_eq!(
        step_command(Step::SyncOut, &facts),
        StepCommand::RequestSyncCycle(RequestSyncCycle {
            objects: vec![facts.object_guid],
            policy_type: PolicyType::Delta
        })
    );
    assert!(
        matches!(step_command(Step::Restore, &facts), StepCommand::RestoreUser(r) if r.id == facts.cloud_id && !r.auto_reconcile_proxy_conflict)
    );
    assert!(
        matches!(step_command(Step::AddAddress, &facts), StepCommand::AddEmailAddress(a) if a.address == facts.address)
    );
    assert!(
        matches!(step_command(Step::DropTemporaryLicense, &facts), StepCommand::RemoveLicense(r) if r.sku_id == facts.temporary_sku)
    );
}

#[test]
fn compensations_undo_what_their_steps_did() {
    let facts = facts();
    assert_eq!(
        compensation_command(Compensation::MoveBack, &facts),
        step_command(Step::Rescope, &facts)
    );
    assert_eq!(
        compensation_command(Compensation::RemoveTemporaryLicense, &facts),
        step_command(Step::DropTemporaryLicense, &facts)
    );
    assert!(matches!(
        compensation_command(Compensation::UnsetCloudManaged, &facts),
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
            Some(ObjectOutcome::Deleted),
        ),
        &facts,
    );
    assert!(matches!(stopped, StepAnswer::Failed(why) if why.contains("threshold")));
    assert!(matches!(
        interpret(Step::SyncOut, &cycle(RunOutcome::Success, None), &facts),
        StepAnswer::Failed(_)
    ));
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
