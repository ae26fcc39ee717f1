//! Between the saga and the step services: which command each step and compensation sends
//! (built from what the saga knows of its user), and what each answer means for the step
//! waiting on it. Pure: the shell publishes and decodes; the meaning lives here.

use detour_contracts::{
    Dn, ProxyAddress,
    ad_ops::{
        AdOpsCommandFailed, AddProxyAddress, FindUser, MoveUser, MoveUserToDn, ProxyAddressAdded,
        ProxyAddressRemoved, RemoveProxyAddress, UserFound, UserLookup, UserMoved,
    },
    cloud_directory::{
        AddressHoldersFound, AssignLicense, CloudCommandFailed, CloudUserRead, DeletedUserRead,
        FindAddressHolders, LicenseAssigned, LicenseRemoved, ReadCloudUser, ReadDeletedUser,
        ReadTenant, RemoveLicense, RestoreUser, SetTakeoverBlock, SetUserCloudManaged,
        TakeoverBlockSet, TenantRead, UserCloudManagedSet, UserRestored,
    },
    connect_agent::PolicyType,
    mailbox_ops::{
        AcceptedDomainsRead, AddEmailAddress, EmailAddressAdded, ExchangeCloudManagedSet,
        MailboxCommandFailed, MailboxRead, ReadAcceptedDomains, ReadMailbox,
        SetExchangeCloudManaged,
    },
    sync_trigger::{
        ConnectStateRead, ReadConnectState, RequestSyncCycle, SyncCycleCompleted, SyncCycleRefused,
    },
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    definition::{Compensation, Step},
    takeover::{LeaseAnswer, LeaseOp},
};

/// What the saga knows of its user, from the snapshot and the diagnosis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaFacts {
    pub object_guid: Uuid,
    /// Where the user was before the saga moved it.
    pub original_dn: Dn,
    /// The out-of-scope OU it is parked in.
    pub parking_ou: Dn,
    pub user_principal_name: String,
    pub cloud_id: Uuid,
    pub immutable_id: Option<String>,
    /// The address to add, e.g. `smtp:ada@contoso.mail.onmicrosoft.com`.
    pub address: ProxyAddress,
    pub temporary_sku: Uuid,
    pub usage_location: Option<String>,
    /// The user's `uSNChanged` at the Snapshot step, just before it is descoped: the descope
    /// is fenced on it, so a late copy of the move cannot undo a finished fix.
    #[serde(default)]
    pub snapshot_usn: Option<u64>,
    /// The cloud user's last export at diagnosis: handing it to the cloud is fenced on it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_sync: Option<OffsetDateTime>,
    /// The SKUs the user held through groups at diagnosis: the temporary licence stays until
    /// they are back, so the user is never left unlicensed (a sync that joins the user back
    /// may bring its group memberships later, as Cloud Sync's on-demand provisioning does).
    #[serde(default)]
    pub group_licences: Vec<Uuid>,
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
    FindAddressHolders(FindAddressHolders),
    ReadTenant(ReadTenant),
    ReadConnectState(ReadConnectState),
    ReadMailbox(ReadMailbox),
    AddEmailAddress(AddEmailAddress),
    SetExchangeCloudManaged(SetExchangeCloudManaged),
    AddProxyAddress(AddProxyAddress),
    RemoveProxyAddress(RemoveProxyAddress),
    ReadAcceptedDomains(ReadAcceptedDomains),
    SetUserCloudManaged(SetUserCloudManaged),
    /// The takeover lease's own command, sent for the lease and not for a saga.
    SetTakeoverBlock(SetTakeoverBlock),
    /// Handled by the coordinator itself, in the same transaction as the saga's change.
    TakeoverLease(LeaseOp),
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
    AddressHoldersFound(AddressHoldersFound),
    TenantRead(TenantRead),
    ConnectStateRead(ConnectStateRead),
    MailboxRead(MailboxRead),
    EmailAddressAdded(EmailAddressAdded),
    ExchangeCloudManagedSet(ExchangeCloudManagedSet),
    ProxyAddressAdded(ProxyAddressAdded),
    ProxyAddressRemoved(ProxyAddressRemoved),
    AcceptedDomainsRead(AcceptedDomainsRead),
    UserCloudManagedSet(UserCloudManagedSet),
    TakeoverBlockSet(TakeoverBlockSet),
    /// The coordinator's own answer about the takeover lease.
    TakeoverLease(LeaseAnswer),
    AdFailed(AdOpsCommandFailed),
    CloudFailed(CloudCommandFailed),
    MailboxFailed(MailboxCommandFailed),
}

/// What an answer means for the step waiting on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAnswer {
    Done,
    /// The condition does not hold yet, and what is missing.
    NotYet(String),
    Failed(String),
}

/// The command for `step`, sent at `now`. A sync step is sent right after the AD change it
/// exports, so `now` is when that change was known to be made: only runs after it count.
pub fn step_command(step: Step, facts: &SagaFacts, now: OffsetDateTime) -> StepCommand {
    let sync = |at: Dn, cloud_object_live: bool| sync_request(facts, at, now, cloud_object_live);
    let read_cloud = || {
        StepCommand::ReadCloudUser(ReadCloudUser {
            user: facts.cloud_id.to_string(),
            with_admin_roles: false,
        })
    };
    match step {
        Step::Snapshot => StepCommand::FindUser(FindUser {
            lookup: UserLookup::ObjectGuid(facts.object_guid),
        }),
        Step::Descope => StepCommand::MoveUser(MoveUser {
            object_guid: facts.object_guid,
            target_ou: facts.parking_ou.clone(),
            only_if_usn_changed: facts.snapshot_usn,
        }),
        // Out of scope only while parked; everywhere else the user is where it was found.
        Step::SyncOut => sync(facts.original_dn.with_parent(&facts.parking_ou), false),
        // After the restore: the cloud user is live.
        Step::SyncIn => sync(facts.original_dn.clone(), true),
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
            only_while_cloud_only: true,
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
        // Fenced on the snapshot: a late copy after the value was removed again adds nothing.
        Step::StampAddress => StepCommand::AddProxyAddress(AddProxyAddress {
            object_guid: facts.object_guid,
            address: facts.address.clone(),
            only_if_usn_changed: facts.snapshot_usn,
        }),
        Step::SyncStamp => sync(facts.original_dn.clone(), true),
        Step::AwaitAddressInExchange => StepCommand::ReadMailbox(ReadMailbox {
            identity: facts.user_principal_name.clone(),
        }),
        Step::HandToCloud => StepCommand::SetUserCloudManaged(SetUserCloudManaged {
            user_id: facts.cloud_id,
            cloud_managed: true,
            only_if_last_sync: facts.last_sync,
        }),
        Step::HandBackToAd => StepCommand::SetUserCloudManaged(SetUserCloudManaged {
            user_id: facts.cloud_id,
            cloud_managed: false,
            only_if_last_sync: None,
        }),
        Step::HoldTakeoverLease => StepCommand::TakeoverLease(LeaseOp::Hold),
        Step::ReleaseTakeoverLease => StepCommand::TakeoverLease(LeaseOp::Release),
        Step::VerifyCloudManaged => read_cloud(),
        Step::HandMailboxBackToAd => {
            compensation_command(Compensation::UnsetCloudManaged, facts, now)
        }
    }
}

/// A cycle for the user at `at`; on demand only where its cloud object is live.
fn sync_request(
    facts: &SagaFacts,
    at: Dn,
    now: OffsetDateTime,
    cloud_object_live: bool,
) -> StepCommand {
    StepCommand::RequestSyncCycle(RequestSyncCycle {
        objects: vec![facts.object_guid],
        policy_type: PolicyType::Delta,
        since: now,
        located_at: [(facts.object_guid, at)].into(),
        provision_on_demand: cloud_object_live,
    })
}

pub fn compensation_command(
    compensation: Compensation,
    facts: &SagaFacts,
    now: OffsetDateTime,
) -> StepCommand {
    match compensation {
        Compensation::MoveBack => step_command(Step::Rescope, facts, now),
        Compensation::RemoveTemporaryLicense => {
            step_command(Step::DropTemporaryLicense, facts, now)
        }
        // Undoing a descope the restore may not have followed: the cloud user may still be
        // soft-deleted, which only a scheduled cycle brings back as the same object.
        Compensation::SyncBack => sync_request(facts, facts.original_dn.clone(), now, false),
        Compensation::VerifyRestored => step_command(Step::AwaitRematch, facts, now),
        Compensation::UnsetCloudManaged => {
            StepCommand::SetExchangeCloudManaged(SetExchangeCloudManaged {
                identity: facts.user_principal_name.clone(),
                value: false,
            })
        }
        Compensation::UnstampAddress => StepCommand::RemoveProxyAddress(RemoveProxyAddress {
            object_guid: facts.object_guid,
            address: facts.address.clone(),
        }),
        Compensation::HandBackToAd => step_command(Step::HandBackToAd, facts, now),
        Compensation::HoldTakeoverLease => step_command(Step::HoldTakeoverLease, facts, now),
        Compensation::ReleaseTakeoverLease => step_command(Step::ReleaseTakeoverLease, facts, now),
    }
}

/// What `event` means for `step`. An event that does not belong to the step is a failure to
/// understand, never a success.
pub fn interpret(step: Step, event: &StepEvent, facts: &SagaFacts) -> StepAnswer {
    use StepAnswer::{Done, Failed, NotYet};
    if let Some(failure) = interpret_failure(event) {
        return failure;
    }
    match (step, event) {
        (Step::Snapshot, StepEvent::UserFound(_)) => Done,
        (Step::Descope | Step::Rescope, StepEvent::UserMoved(_)) => Done,
        (Step::SyncOut, StepEvent::SyncCycleCompleted(run)) => sync_out(run, facts),
        (Step::SyncIn, StepEvent::SyncCycleCompleted(run)) => sync_in(run, facts),
        (Step::AwaitSoftDelete, StepEvent::DeletedUserRead(read)) => {
            if read.user.is_some() {
                Done
            } else {
                NotYet("not in deleted items yet".into())
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
            _ => NotYet("no writable cloud mailbox yet".into()),
        },
        (Step::AddAddress, StepEvent::EmailAddressAdded(_)) => Done,
        (Step::AwaitRematch, StepEvent::CloudUserRead(read)) => rematched(read, facts),
        (Step::DropTemporaryLicense, StepEvent::LicenseRemoved(_)) => Done,
        (Step::Verify, StepEvent::CloudUserRead(read)) => verify(read, facts),
        (Step::SetCloudManaged, StepEvent::ExchangeCloudManagedSet(set)) if set.value => Done,
        (Step::HandMailboxBackToAd, StepEvent::ExchangeCloudManagedSet(set)) if !set.value => Done,
        (Step::StampAddress, StepEvent::ProxyAddressAdded(_)) => Done,
        (Step::SyncStamp, StepEvent::SyncCycleCompleted(run)) => sync_in(run, facts),
        (Step::AwaitAddressInExchange, StepEvent::MailboxRead(read)) => match &read.mailbox {
            Some(mailbox)
                if mailbox
                    .email_addresses
                    .iter()
                    .any(|a| facts.address.same_as(a)) =>
            {
                Done
            }
            Some(_) => NotYet(format!(
                "Exchange Online does not show {} yet",
                facts.address.address()
            )),
            None => NotYet("no mailbox".into()),
        },
        (Step::HandToCloud, StepEvent::UserCloudManagedSet(set)) if set.cloud_managed => Done,
        (Step::HandBackToAd, StepEvent::UserCloudManagedSet(set)) if !set.cloud_managed => Done,
        (Step::HoldTakeoverLease, StepEvent::TakeoverLease(LeaseAnswer::Held)) => Done,
        (Step::HoldTakeoverLease, StepEvent::TakeoverLease(LeaseAnswer::Waiting(why))) => {
            NotYet(why.clone())
        }
        (Step::ReleaseTakeoverLease, StepEvent::TakeoverLease(LeaseAnswer::Released)) => Done,
        (Step::VerifyCloudManaged, StepEvent::CloudUserRead(read)) => {
            verify_cloud_managed(read, facts)
        }
        (step, event) => Failed(format!("{step:?} cannot use this answer: {event:?}")),
    }
}

/// What `event` means for a compensation. `NotYet` (the user is not back as before yet) is
/// for the shell to report as a failed attempt, which `decide` retries with growing pauses.
pub fn interpret_compensation(
    compensation: Compensation,
    event: &StepEvent,
    facts: &SagaFacts,
) -> StepAnswer {
    match (compensation, event) {
        (Compensation::MoveBack, _) => interpret(Step::Rescope, event, facts),
        (Compensation::RemoveTemporaryLicense, _) => {
            interpret(Step::DropTemporaryLicense, event, facts)
        }
        (Compensation::VerifyRestored, _) => interpret(Step::AwaitRematch, event, facts),
        // A cycle that never touched the user is fine here: nothing had reached the cloud.
        (Compensation::SyncBack, StepEvent::SyncCycleCompleted(runs)) => {
            match rejoin(runs, facts) {
                Rejoin::Duplicate => StepAnswer::Failed(DUPLICATE_OBJECT.into()),
                Rejoin::Error(detail) => {
                    StepAnswer::Failed(format!("the cycle could not export the user: {detail}"))
                }
                Rejoin::Joined | Rejoin::NotReported => StepAnswer::Done,
            }
        }
        (Compensation::UnsetCloudManaged, StepEvent::ExchangeCloudManagedSet(set))
            if !set.value =>
        {
            StepAnswer::Done
        }
        (Compensation::UnstampAddress, StepEvent::ProxyAddressRemoved(_)) => StepAnswer::Done,
        (Compensation::HandBackToAd, _) => interpret(Step::HandBackToAd, event, facts),
        (Compensation::HoldTakeoverLease, _) => interpret(Step::HoldTakeoverLease, event, facts),
        (Compensation::ReleaseTakeoverLease, _) => {
            interpret(Step::ReleaseTakeoverLease, event, facts)
        }
        (
            Compensation::SyncBack | Compensation::UnsetCloudManaged | Compensation::UnstampAddress,
            _,
        ) => interpret_failure(event).unwrap_or_else(|| {
            StepAnswer::Failed(format!(
                "{compensation:?} cannot use this answer: {event:?}"
            ))
        }),
    }
}

/// The answer a step service gives when it could not do what it was asked.
fn interpret_failure(event: &StepEvent) -> Option<StepAnswer> {
    let reason = match event {
        StepEvent::AdFailed(f) => format!("ad-ops: {}", f.reason),
        StepEvent::CloudFailed(f) => format!("cloud-directory: {}", f.reason),
        StepEvent::MailboxFailed(f) => format!("mailbox-ops: {}", f.reason),
        StepEvent::SyncCycleRefused(r) => format!("Connect refused the cycle: {}", r.reason),
        _ => return None,
    };
    Some(StepAnswer::Failed(reason))
}

mod conditions;
#[cfg(test)]
mod tests;

use conditions::{
    DUPLICATE_OBJECT, Rejoin, rejoin, rematched, sync_in, sync_out, verify, verify_cloud_managed,
};
