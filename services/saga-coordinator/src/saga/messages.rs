//! Between the saga and the step services: which command each step and compensation sends
//! (built from what the saga knows of its user), and what each answer means for the step
//! waiting on it. Pure: the shell publishes and decodes; the meaning lives here.

use detour_contracts::{
    ad_ops::{
        AdOpsCommandFailed, FindUser, MoveUser, MoveUserToDn, UserFound, UserLookup, UserMoved,
    },
    cloud_directory::{
        AssignLicense, CloudCommandFailed, CloudUserRead, DeletedUserRead, LicenseAssigned,
        LicenseRemoved, ReadCloudUser, ReadDeletedUser, RemoveLicense, RestoreUser, UserRestored,
    },
    connect_agent::{ObjectOutcome, PolicyType, RunOutcome},
    mailbox_ops::{
        AddEmailAddress, EmailAddressAdded, ExchangeCloudManagedSet, MailboxCommandFailed,
        MailboxRead, ReadMailbox, SetExchangeCloudManaged,
    },
    sync_trigger::{RequestSyncCycle, SyncCycleCompleted, SyncCycleRefused},
};
use uuid::Uuid;

use super::definition::{Compensation, Step};

/// What the saga knows of its user, from the snapshot and the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SagaFacts {
    pub object_guid: Uuid,
    /// Where the user was before the saga moved it.
    pub original_dn: String,
    /// The out-of-scope OU it is parked in.
    pub parking_ou: String,
    pub user_principal_name: String,
    pub cloud_id: Uuid,
    pub immutable_id: Option<String>,
    /// The address to add, e.g. `smtp:ada@contoso.mail.onmicrosoft.com`.
    pub address: String,
    pub temporary_sku: Uuid,
    pub usage_location: Option<String>,
}

/// A command to a step service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepCommand {
    FindUser(FindUser),
    MoveUser(MoveUser),
    MoveUserToDn(MoveUserToDn),
    RequestSyncCycle(RequestSyncCycle),
    ReadDeletedUser(ReadDeletedUser),
    RestoreUser(RestoreUser),
    AssignLicense(AssignLicense),
    RemoveLicense(RemoveLicense),
    ReadCloudUser(ReadCloudUser),
    ReadMailbox(ReadMailbox),
    AddEmailAddress(AddEmailAddress),
    SetExchangeCloudManaged(SetExchangeCloudManaged),
}

/// An event from a step service, decoded by the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEvent {
    UserFound(UserFound),
    UserMoved(UserMoved),
    SyncCycleCompleted(SyncCycleCompleted),
    SyncCycleRefused(SyncCycleRefused),
    DeletedUserRead(DeletedUserRead),
    UserRestored(UserRestored),
    LicenseAssigned(LicenseAssigned),
    LicenseRemoved(LicenseRemoved),
    CloudUserRead(CloudUserRead),
    MailboxRead(MailboxRead),
    EmailAddressAdded(EmailAddressAdded),
    ExchangeCloudManagedSet(ExchangeCloudManagedSet),
    AdFailed(AdOpsCommandFailed),
    CloudFailed(CloudCommandFailed),
    MailboxFailed(MailboxCommandFailed),
}

/// What an answer means for the step waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAnswer {
    Done,
    NotYet,
    Failed(String),
}

pub fn step_command(step: Step, facts: &SagaFacts) -> StepCommand {
    let sync = || {
        StepCommand::RequestSyncCycle(RequestSyncCycle {
            objects: vec![facts.object_guid],
            policy_type: PolicyType::Delta,
        })
    };
    let read_cloud = || {
        StepCommand::ReadCloudUser(ReadCloudUser {
            user: facts.cloud_id.to_string(),
        })
    };
    match step {
        Step::Snapshot => StepCommand::FindUser(FindUser {
            lookup: UserLookup::ObjectGuid(facts.object_guid),
        }),
        Step::Descope => StepCommand::MoveUser(MoveUser {
            object_guid: facts.object_guid,
            target_ou: facts.parking_ou.clone(),
        }),
        Step::SyncOut | Step::SyncIn => sync(),
        Step::AwaitSoftDelete => {
            StepCommand::ReadDeletedUser(ReadDeletedUser { id: facts.cloud_id })
        }
        Step::Restore => StepCommand::RestoreUser(RestoreUser {
            id: facts.cloud_id,
            auto_reconcile_proxy_conflict: false,
            new_user_principal_name: None,
        }),
        Step::EnsureLicense => StepCommand::AssignLicense(AssignLicense {
            user_id: facts.cloud_id,
            sku_id: facts.temporary_sku,
            usage_location: facts.usage_location.clone(),
        }),
        Step::AwaitMailbox => StepCommand::ReadMailbox(ReadMailbox {
            identity: facts.user_principal_name.clone(),
        }),
        Step::AddAddress => StepCommand::AddEmailAddress(AddEmailAddress {
            identity: facts.user_principal_name.clone(),
            address: facts.address.clone(),
        }),
        Step::Rescope => StepCommand::MoveUserToDn(MoveUserToDn {
            object_guid: facts.object_guid,
            distinguished_name: facts.original_dn.clone(),
        }),
        Step::AwaitRematch | Step::Verify => read_cloud(),
        Step::DropTemporaryLicense => StepCommand::RemoveLicense(RemoveLicense {
            user_id: facts.cloud_id,
            sku_id: facts.temporary_sku,
        }),
        Step::SetCloudManaged => StepCommand::SetExchangeCloudManaged(SetExchangeCloudManaged {
            identity: facts.user_principal_name.clone(),
            value: true,
        }),
    }
}

pub fn compensation_command(compensation: Compensation, facts: &SagaFacts) -> StepCommand {
    match compensation {
        Compensation::MoveBack => step_command(Step::Rescope, facts),
        Compensation::RemoveTemporaryLicense => step_command(Step::DropTemporaryLicense, facts),
        Compensation::SyncBack => step_command(Step::SyncIn, facts),
        Compensation::VerifyRestored => step_command(Step::AwaitRematch, facts),
        Compensation::UnsetCloudManaged => {
            StepCommand::SetExchangeCloudManaged(SetExchangeCloudManaged {
                identity: facts.user_principal_name.clone(),
                value: false,
            })
        }
    }
}

/// What `event` means for `step`. An event that does not belong to the step is a failure to
/// understand, never a success.
pub fn interpret(step: Step, event: &StepEvent, facts: &SagaFacts) -> StepAnswer {
    use StepAnswer::{Done, Failed, NotYet};
    match (step, event) {
        (_, StepEvent::AdFailed(f)) => Failed(format!("ad-ops: {}", f.reason)),
        (_, StepEvent::CloudFailed(f)) => Failed(format!("cloud-directory: {}", f.reason)),
        (_, StepEvent::MailboxFailed(f)) => Failed(format!("mailbox-ops: {}", f.reason)),
        (_, StepEvent::SyncCycleRefused(r)) => {
            Failed(format!("Connect refused the cycle: {}", r.reason))
        }
        (Step::Snapshot, StepEvent::UserFound(_)) => Done,
        (Step::Descope | Step::Rescope, StepEvent::UserMoved(_)) => Done,
        (Step::SyncOut, StepEvent::SyncCycleCompleted(run)) => sync_out(run, facts),
        (Step::SyncIn, StepEvent::SyncCycleCompleted(run)) => sync_in(run, facts),
        (Step::AwaitSoftDelete, StepEvent::DeletedUserRead(read)) => {
            if read.user.is_some() {
                Done
            } else {
                NotYet
            }
        }
        (Step::Restore, StepEvent::UserRestored(_)) => Done,
        (Step::EnsureLicense, StepEvent::LicenseAssigned(_)) => Done,
        (Step::AwaitMailbox, StepEvent::MailboxRead(read)) => match &read.mailbox {
            Some(mailbox)
                if mailbox.recipient_type_details == "UserMailbox" && !mailbox.is_dir_synced =>
            {
                Done
            }
            _ => NotYet,
        },
        (Step::AddAddress, StepEvent::EmailAddressAdded(_)) => Done,
        (Step::AwaitRematch, StepEvent::CloudUserRead(read)) => match &read.user {
            Some(user)
                if user.id == facts.cloud_id && user.on_premises_sync_enabled == Some(true) =>
            {
                Done
            }
            _ => NotYet,
        },
        (Step::DropTemporaryLicense, StepEvent::LicenseRemoved(_)) => Done,
        (Step::Verify, StepEvent::CloudUserRead(read)) => verify(read, facts),
        (Step::SetCloudManaged, StepEvent::ExchangeCloudManagedSet(set)) if set.value => Done,
        (step, event) => Failed(format!("{step:?} cannot use this answer: {event:?}")),
    }
}

fn object_outcome(run: &SyncCycleCompleted, facts: &SagaFacts) -> Option<ObjectOutcome> {
    run.objects
        .iter()
        .find(|o| o.object_guid == facts.object_guid)
        .map(|o| o.outcome)
}

/// The cycle must have deleted this user from the cloud, and stopped for nothing [S19].
fn sync_out(run: &SyncCycleCompleted, facts: &SagaFacts) -> StepAnswer {
    match (run.outcome, object_outcome(run, facts)) {
        (RunOutcome::StoppedDeletionThresholdExceeded, _) => {
            StepAnswer::Failed("the accidental-delete threshold stopped the export".into())
        }
        (_, Some(ObjectOutcome::Deleted)) => StepAnswer::Done,
        (_, other) => StepAnswer::Failed(format!(
            "the cycle did not delete the user from the cloud ({other:?})"
        )),
    }
}

/// The cycle must have matched the user to its cloud object: a new object would be a duplicate.
fn sync_in(run: &SyncCycleCompleted, facts: &SagaFacts) -> StepAnswer {
    match object_outcome(run, facts) {
        Some(ObjectOutcome::Matched | ObjectOutcome::Updated) => StepAnswer::Done,
        Some(ObjectOutcome::Added) => {
            StepAnswer::Failed("the cycle created a second cloud object instead of matching".into())
        }
        other => StepAnswer::Failed(format!("the cycle did not match the user ({other:?})")),
    }
}

/// Address present, synced, the same object and anchor, licences from groups only.
fn verify(read: &CloudUserRead, facts: &SagaFacts) -> StepAnswer {
    let Some(user) = &read.user else {
        return StepAnswer::Failed("the user is gone from the cloud".into());
    };
    let bare = |a: &str| {
        a.split_once(':')
            .map_or(a, |(_, rest)| rest)
            .to_ascii_lowercase()
    };
    let problems: Vec<&str> = [
        (user.id != facts.cloud_id, "a different cloud object"),
        (user.on_premises_sync_enabled != Some(true), "not synced"),
        (
            user.on_premises_immutable_id != facts.immutable_id,
            "a different source anchor",
        ),
        (
            !user
                .proxy_addresses
                .iter()
                .any(|a| bare(a) == bare(&facts.address)),
            "the address is missing",
        ),
        (
            user.licenses.iter().any(|l| l.assigned_by_group.is_none()),
            "a direct licence remains",
        ),
    ]
    .into_iter()
    .filter_map(|(bad, what)| bad.then_some(what))
    .collect();
    if problems.is_empty() {
        StepAnswer::Done
    } else {
        StepAnswer::Failed(format!("verification failed: {}", problems.join(", ")))
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            interpret(Step::AwaitSoftDelete, &gone, &facts),
            StepAnswer::NotYet
        );
        assert_eq!(
            interpret(Step::AwaitMailbox, &mailbox("MailUser", false), &facts),
            StepAnswer::NotYet
        );
        assert_eq!(
            interpret(Step::AwaitMailbox, &mailbox("UserMailbox", true), &facts),
            StepAnswer::NotYet
        );
        assert_eq!(
            interpret(Step::AwaitMailbox, &mailbox("UserMailbox", false), &facts),
            StepAnswer::Done
        );
        let cloud_only = CloudUserState {
            on_premises_sync_enabled: None,
            ..healthy_user()
        };
        assert_eq!(
            interpret(Step::AwaitRematch, &read(Some(cloud_only)), &facts),
            StepAnswer::NotYet
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
        let StepAnswer::Failed(why) = interpret(Step::Verify, &read(Some(broken)), &facts) else {
            panic!("a broken user verified")
        };
        for problem in ["source anchor", "address is missing", "direct licence"] {
            assert!(why.contains(problem), "{why} should mention {problem}");
        }
        assert!(matches!(
            interpret(Step::Verify, &read(None), &facts),
            StepAnswer::Failed(_)
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
}
