//! Gathering a diagnosis: the reads a remediation sends, what they answered so far, and once
//! all are in, the diagnosis and the phase it leads to.

use detour_contracts::{
    ProxyAddress,
    ad_ops::{AdUserSnapshot, FindUser, UserLookup},
    cloud_directory::{
        AddressHolder, CloudUserState, FindAddressHolders, ReadCloudUser, ReadTenant, TenantRead,
    },
    mailbox_ops::{MailboxState, ReadAcceptedDomains, ReadMailbox},
    sync_trigger::{ConnectStateRead, ReadConnectState},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Advance, Phase, Policy, Purpose};
use crate::saga::{
    diagnosis::{Diagnosis, Facts, Plan, Refusal, Strategy, coexistence_address, diagnose},
    messages::{SagaFacts, StepCommand, StepEvent},
};

/// The reads a diagnosis needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Read {
    AdUser,
    CloudUser,
    Mailbox,
    Tenant,
    Connect,
    /// Exchange Online's accepted domains.
    AcceptedDomains,
    /// Who else holds the address; asked once the cloud user (and so its alias) is known.
    AddressHolders,
}

impl Read {
    /// The reads sent at once when a remediation begins.
    pub const FIRST: [Read; 6] = [
        Read::AdUser,
        Read::CloudUser,
        Read::Mailbox,
        Read::Tenant,
        Read::Connect,
        Read::AcceptedDomains,
    ];

    /// The command for this read about `subject`: the user's UPN, or for `AddressHolders`
    /// the address.
    pub(super) fn command(self, subject: &str) -> StepCommand {
        match self {
            Read::AdUser => StepCommand::FindUser(FindUser {
                lookup: UserLookup::UserPrincipalName(subject.to_owned()),
            }),
            // The roles decide a refusal (soft match refuses administrators [S17]).
            Read::CloudUser => StepCommand::ReadCloudUser(ReadCloudUser {
                user: subject.to_owned(),
                with_admin_roles: true,
            }),
            Read::Mailbox => StepCommand::ReadMailbox(ReadMailbox {
                identity: subject.to_owned(),
            }),
            Read::Tenant => StepCommand::ReadTenant(ReadTenant {}),
            Read::Connect => StepCommand::ReadConnectState(ReadConnectState {}),
            Read::AcceptedDomains => StepCommand::ReadAcceptedDomains(ReadAcceptedDomains {}),
            Read::AddressHolders => StepCommand::FindAddressHolders(FindAddressHolders {
                address: subject.to_owned(),
            }),
        }
    }
}

/// What the reads have answered so far (`None`: not yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reads {
    pub ad: Option<AdUserSnapshot>,
    /// `Some(None)`: answered, and there is no such cloud user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "answered"
    )]
    pub cloud: Option<Option<CloudUserState>>,
    /// `Some(None)`: answered, and the user has no mailbox.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "answered"
    )]
    pub mailbox: Option<Option<MailboxState>>,
    pub tenant: Option<TenantRead>,
    pub connect: Option<ConnectStateRead>,
    #[serde(default)]
    pub accepted_domains: Option<Vec<String>>,
    /// Asked only when the cloud user exists.
    #[serde(default)]
    pub holders: Option<Vec<AddressHolder>>,
    /// An address an earlier plan of this remediation already added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<ProxyAddress>,
    /// When this diagnosis's reads must all be answered (none in a store written before it
    /// was kept).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub deadline: Option<OffsetDateTime>,
}

/// A field present in the stored JSON was answered, even when its answer is `null` ("none"):
/// plain serde would read that `null` back as "not answered yet".
fn answered<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl Reads {
    /// Which of the remediation's diagnoses this is: 0 for the first, 1 for the MOERA's own
    /// diagnosis after the routing address was added.
    pub fn round(&self) -> u32 {
        u32::from(self.earlier.is_some())
    }

    /// The reads not answered yet.
    pub fn missing(&self) -> Vec<Read> {
        let holders_needed = matches!(self.cloud, None | Some(Some(_)));
        let answered = [
            (Read::AdUser, self.ad.is_some()),
            (Read::CloudUser, self.cloud.is_some()),
            (Read::Mailbox, self.mailbox.is_some()),
            (Read::Tenant, self.tenant.is_some()),
            (Read::Connect, self.connect.is_some()),
            (Read::AcceptedDomains, self.accepted_domains.is_some()),
            (
                Read::AddressHolders,
                !holders_needed || self.holders.is_some(),
            ),
        ];
        answered
            .into_iter()
            .filter_map(|(read, done)| (!done).then_some(read))
            .collect()
    }
}

/// Records a read's answer; once all are in, diagnoses.
pub(super) fn gathered(
    policy: &Policy,
    reads: &Reads,
    read: Read,
    answer: &StepEvent,
    dry_run: bool,
) -> Advance {
    let mut reads = reads.clone();
    let mut sends = Vec::new();
    let recorded = match (read, answer) {
        (Read::AdUser, StepEvent::UserFound(found)) => {
            reads.ad.get_or_insert(found.snapshot.clone());
            true
        }
        (Read::CloudUser, StepEvent::CloudUserRead(read)) => {
            if reads.cloud.is_none()
                && let Some(user) = &read.user
            {
                match coexistence_address(user, &policy.coexistence_domain) {
                    Ok(address) => sends.push((
                        Purpose::Read {
                            read: Read::AddressHolders,
                            round: reads.round(),
                        },
                        Read::AddressHolders.command(&address.to_string()),
                    )),
                    // No address to look for: the diagnosis refuses the alias.
                    Err(_) => reads.holders = Some(Vec::new()),
                }
            }
            reads.cloud.get_or_insert(read.user.clone());
            true
        }
        (Read::AddressHolders, StepEvent::AddressHoldersFound(found)) => {
            reads.holders.get_or_insert(found.holders.clone());
            true
        }
        (Read::Mailbox, StepEvent::MailboxRead(read)) => {
            reads.mailbox.get_or_insert(read.mailbox.clone());
            true
        }
        (Read::Tenant, StepEvent::TenantRead(tenant)) => {
            reads.tenant.get_or_insert(tenant.clone());
            true
        }
        (Read::Connect, StepEvent::ConnectStateRead(connect)) => {
            reads.connect.get_or_insert(connect.clone());
            true
        }
        (Read::AcceptedDomains, StepEvent::AcceptedDomainsRead(read)) => {
            reads.accepted_domains.get_or_insert(read.domains.clone());
            true
        }
        _ => false,
    };
    if !recorded {
        let reason = match answer {
            StepEvent::AdFailed(f) => format!("ad-ops: {}", f.reason),
            StepEvent::CloudFailed(f) => format!("cloud-directory: {}", f.reason),
            StepEvent::MailboxFailed(f) => format!("mailbox-ops: {}", f.reason),
            other => format!("an answer it cannot use: {other:?}"),
        };
        return Advance::to(
            Phase::Undiagnosable {
                reason: format!("the {read:?} read failed: {reason}"),
            },
            format!("cannot diagnose: the {read:?} read failed: {reason}"),
        );
    }
    match complete(policy, &reads) {
        None => Advance {
            sends,
            ..Advance::to(Phase::Diagnosing { reads }, format!("{read:?} read"))
        },
        Some(facts) => diagnosed(policy, &facts, dry_run),
    }
}

fn complete(policy: &Policy, reads: &Reads) -> Option<Facts> {
    if !reads.missing().is_empty() {
        return None;
    }
    let own_id = reads.cloud.clone().flatten().map(|user| user.id);
    let address_holder = reads
        .holders
        .iter()
        .flatten()
        .find(|holder| Some(holder.id) != own_id)
        .map(|holder| {
            if holder.soft_deleted {
                format!(
                    "{} (soft-deleted: restore or purge it first)",
                    holder.user_principal_name
                )
            } else {
                holder.user_principal_name.clone()
            }
        });
    let connect = reads.connect.clone()?;
    Some(Facts {
        ad: reads.ad.clone()?,
        cloud: reads.cloud.clone()?,
        mailbox: reads.mailbox.clone()?,
        tenant: reads.tenant.clone()?,
        coexistence_domain: policy.coexistence_domain.clone(),
        accepted_domains: reads.accepted_domains.clone()?,
        strategies: policy.strategies.clone(),
        return_user_to_ad: policy.return_user_to_ad,
        return_mailbox_to_ad: policy.return_mailbox_to_ad,
        address_holder,
        parking_ou_in_scope: policy.parking_ou_in_scope
            || policy
                .parking_ou
                .is_within_any(&connect.included_containers),
        temporary_sku: policy.temporary_sku,
        connect,
    })
}

fn diagnosed(policy: &Policy, facts: &Facts, dry_run: bool) -> Advance {
    let no_usage_location = usage_location(policy, facts).is_none();
    let diagnosis = match diagnose(facts) {
        // A round trip needs a usage location for its temporary licence, fallback or not.
        Diagnosis::Plan(mut plan) if no_usage_location => {
            plan.fallbacks.retain(|s| *s != Strategy::RoundTrip);
            Diagnosis::Plan(plan)
        }
        other => other,
    };
    let diagnosis = match diagnosis {
        Diagnosis::Plan(plan)
            if plan.strategy == Strategy::RoundTrip && usage_location(policy, facts).is_none() =>
        {
            Diagnosis::Refused {
                refusal: Refusal::NoUsageLocation,
                detail: "the user has no usage location and none is configured \
                         (saga.default_usage_location): the temporary licence cannot be assigned"
                    .into(),
            }
        }
        other => other,
    };
    let summary = match &diagnosis {
        Diagnosis::NothingToDo { address } => format!("nothing to do: {address} is present"),
        Diagnosis::Refused { refusal, detail } => format!("refused ({refusal:?}): {detail}"),
        Diagnosis::Plan(plan) => format!(
            "plan {} ({:?}): add {}, {}",
            plan.hash(),
            plan.strategy,
            plan.address,
            plan.missing.words()
        ),
    };
    match diagnosis {
        Diagnosis::Plan(plan) if !dry_run => {
            let Some(saga_facts) = saga_facts(policy, facts, &plan) else {
                return Advance::to(
                    Phase::Undiagnosable {
                        reason: "the diagnosis lacks the cloud user".into(),
                    },
                    "cannot diagnose: no cloud user",
                );
            };
            Advance::to(
                Phase::Queued {
                    plan,
                    facts: saga_facts,
                },
                format!("diagnosed: {summary}; waiting for admission"),
            )
        }
        diagnosis => Advance::to(
            Phase::Diagnosed { diagnosis },
            format!("diagnosed: {summary}"),
        ),
    }
}

fn saga_facts(policy: &Policy, facts: &Facts, plan: &Plan) -> Option<SagaFacts> {
    let cloud = facts.cloud.as_ref()?;
    Some(SagaFacts {
        object_guid: facts.ad.object_guid,
        original_dn: facts.ad.distinguished_name.clone(),
        parking_ou: policy.parking_ou.clone(),
        user_principal_name: cloud.user_principal_name.clone(),
        cloud_id: cloud.id,
        immutable_id: cloud.on_premises_immutable_id.clone(),
        address: plan.address.clone(),
        temporary_sku: policy.temporary_sku,
        usage_location: usage_location(policy, facts),
        snapshot_usn: None,
        last_sync: cloud.on_premises_last_sync,
        group_licences: {
            let mut skus: Vec<uuid::Uuid> = cloud
                .licenses
                .iter()
                .filter(|l| l.assigned_by_group.is_some())
                .map(|l| l.sku_id)
                .collect();
            skus.sort();
            skus.dedup();
            skus
        },
    })
}

fn usage_location(policy: &Policy, facts: &Facts) -> Option<String> {
    facts
        .cloud
        .as_ref()
        .and_then(|c| c.usage_location.clone())
        .or_else(|| policy.default_usage_location.clone())
}
