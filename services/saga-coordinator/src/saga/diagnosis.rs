//! Diagnose: from what the reads found, decide whether there is anything to do, whether it is
//! safe, and how. Pure: the facts come in, a verdict goes out.

use detour_contracts::{
    AddressError, ProxyAddress,
    ad_ops::AdUserSnapshot,
    cloud_directory::{CloudUserState, TenantRead},
    mailbox_ops::MailboxState,
    sync_trigger::ConnectStateRead,
};
use serde::{Deserialize, Serialize};

use super::plan_hash::PlanHash;
use uuid::Uuid;

/// Everything the diagnosis looks at, as the step services answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub ad: AdUserSnapshot,
    pub cloud: Option<CloudUserState>,
    pub mailbox: Option<MailboxState>,
    pub tenant: TenantRead,
    pub connect: ConnectStateRead,
    /// The hybrid coexistence domain, e.g. `contoso.mail.onmicrosoft.com`.
    pub coexistence_domain: String,
    /// Another object that already holds the address, if a lookup found one.
    pub address_holder: Option<String>,
    /// The OU the user would be parked in, and whether Connect syncs it.
    pub parking_ou_in_scope: bool,
    /// The SKU given directly while the group's is gone.
    pub temporary_sku: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Exchange attributes managed in the cloud: set the flag, add the address (no deletion) [S36].
    CloudManaged,
    /// The seed's round trip through deletion and restore.
    RoundTrip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Refusal {
    UserNotInCloud,
    NotSynced,
    NoMailbox,
    AddressHeldElsewhere,
    StagingMode,
    SchedulerSuspended,
    /// The return to scope would need a match the tenant blocks [S17].
    MatchingBlocked,
    /// Matching refuses users with an administrator role [S17].
    AdminRole,
    ParkingOuInScope,
    NoFreeSeat,
    /// A licence cannot be assigned without a usage location, and none is known.
    NoUsageLocation,
    /// The user's alias makes no valid address at the coexistence domain.
    NoValidAddress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub strategy: Strategy,
    pub address: ProxyAddress,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Diagnosis {
    NothingToDo { address: ProxyAddress },
    Refused { refusal: Refusal, detail: String },
    Plan(Plan),
}

/// The first Connect version that honours IsExchangeCloudManaged [S36-icewolf].
const CLOUD_MANAGED_FROM: [u32; 4] = [2, 5, 76, 0];

pub fn diagnose(facts: &Facts, prefer_cloud_managed: bool) -> Diagnosis {
    let refuse = |refusal, detail: String| Diagnosis::Refused { refusal, detail };
    let Some(cloud) = &facts.cloud else {
        return refuse(
            Refusal::UserNotInCloud,
            format!("no cloud user for {}", facts.ad.sam_account_name),
        );
    };
    if cloud.on_premises_sync_enabled != Some(true) {
        return refuse(
            Refusal::NotSynced,
            format!(
                "{} is not synced from AD; edit it in the cloud directly",
                cloud.user_principal_name
            ),
        );
    }
    let Some(mailbox) = &facts.mailbox else {
        return refuse(
            Refusal::NoMailbox,
            format!("{} has no active mailbox", cloud.user_principal_name),
        );
    };
    let address = match coexistence_address(cloud, &facts.coexistence_domain) {
        Ok(address) => address,
        Err(error) => return refuse(Refusal::NoValidAddress, error.to_string()),
    };
    if mailbox.email_addresses.iter().any(|a| address.same_as(a)) {
        return Diagnosis::NothingToDo { address };
    }
    if let Some(holder) = &facts.address_holder {
        return refuse(
            Refusal::AddressHeldElsewhere,
            format!("{} already belongs to {holder}", address.address()),
        );
    }
    let mut after = mailbox.email_addresses.clone();
    after.push(address.to_string());
    let plan = |strategy| {
        Diagnosis::Plan(Plan {
            strategy,
            address: address.clone(),
            before: mailbox.email_addresses.clone(),
            after: after.clone(),
        })
    };
    if prefer_cloud_managed && version_at_least(&facts.connect.connect_version, CLOUD_MANAGED_FROM)
    {
        return plan(Strategy::CloudManaged);
    }
    let scheduler = &facts.connect.scheduler;
    if scheduler.staging_mode_enabled {
        return refuse(
            Refusal::StagingMode,
            "this Connect server is in staging mode and exports nothing".into(),
        );
    }
    if scheduler.scheduler_suspended {
        return refuse(
            Refusal::SchedulerSuspended,
            "Connect's scheduler is suspended (an upgrade or the wizard)".into(),
        );
    }
    // The restored user returns by hard match if it kept its immutableId, else by soft match
    // (a disputed point, domain.md section 5): either block stops the round trip.
    if facts.tenant.block_soft_match_enabled
        || facts
            .tenant
            .block_cloud_object_takeover_through_hard_match_enabled
    {
        return refuse(
            Refusal::MatchingBlocked,
            "the tenant blocks soft match or hard-match takeover: the user could not re-link"
                .into(),
        );
    }
    match &cloud.admin_roles {
        Some(roles) if roles.is_empty() => {}
        Some(roles) => {
            return refuse(
                Refusal::AdminRole,
                format!(
                    "{} holds {}: matching refuses administrators",
                    cloud.user_principal_name,
                    roles.join(", ")
                ),
            );
        }
        // Unknown is not "none": an administrator must never be descoped.
        None => {
            return refuse(
                Refusal::AdminRole,
                format!(
                    "{}'s directory roles were not read: an administrator cannot be ruled out",
                    cloud.user_principal_name
                ),
            );
        }
    }
    if facts.parking_ou_in_scope {
        return refuse(
            Refusal::ParkingOuInScope,
            "the parking OU is in sync scope: moving there would not descope the user".into(),
        );
    }
    // The user's own seat frees when it is deleted; a user without that SKU needs a free one.
    let holds_sku = cloud
        .licenses
        .iter()
        .any(|l| l.sku_id == facts.temporary_sku);
    let free = facts
        .tenant
        .skus
        .iter()
        .find(|s| s.sku_id == facts.temporary_sku)
        .map_or(0, |s| s.prepaid_units.saturating_sub(s.consumed_units));
    if !holds_sku && free == 0 {
        return refuse(
            Refusal::NoFreeSeat,
            format!(
                "no free seat of {} for the temporary licence",
                facts.temporary_sku
            ),
        );
    }
    plan(Strategy::RoundTrip)
}

/// The address the user should have: its alias (mailNickname, else the UPN's name) at the
/// coexistence domain, as a secondary `smtp:` address.
pub fn coexistence_address(
    cloud: &CloudUserState,
    coexistence_domain: &str,
) -> Result<ProxyAddress, AddressError> {
    let alias = cloud.mail_nickname.clone().unwrap_or_else(|| {
        cloud
            .user_principal_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    ProxyAddress::parse(&format!("smtp:{alias}@{coexistence_domain}"))
}

impl Plan {
    /// A stable fingerprint of what will change, which an approval must name.
    pub fn hash(&self) -> PlanHash {
        PlanHash::of(&format!(
            "{:?}|{}|{}|{}",
            self.strategy,
            self.address,
            self.before.join(","),
            self.after.join(",")
        ))
    }
}

fn version_at_least(version: &str, minimum: [u32; 4]) -> bool {
    let mut parts = [0u32; 4];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        *slot = part.trim().parse().unwrap_or(0);
    }
    parts >= minimum
}

/// The temporary SKU of [`sample_facts`].
#[cfg(test)]
pub(crate) const SAMPLE_SKU: Uuid = Uuid::from_u128(0xE3);

/// The seed's user as the reads find it: synced, group-licensed, lacking the address.
#[cfg(test)]
pub(crate) fn sample_facts() -> Facts {
    use detour_contracts::cloud_directory::{LicenseAssignment, SkuSeats};

    let id = Uuid::from_u128(1);
    Facts {
        ad: AdUserSnapshot {
            usn_changed: 4711,
            object_guid: Uuid::from_u128(2),
            distinguished_name: "CN=Ada,OU=Staff,DC=corp".parse().unwrap(),
            consistency_guid: None,
            user_principal_name: Some("ada@contoso.com".into()),
            sam_account_name: "ada".into(),
            proxy_addresses: vec!["SMTP:ada@contoso.com".into()],
            member_of: vec![],
            admin_description: None,
        },
        cloud: Some(CloudUserState {
            id,
            user_principal_name: "ada@contoso.com".into(),
            mail_nickname: Some("ada".into()),
            on_premises_sync_enabled: Some(true),
            on_premises_immutable_id: Some("abc=".into()),
            on_premises_distinguished_name: Some("CN=Ada,OU=Staff,DC=corp".into()),
            proxy_addresses: vec!["SMTP:ada@contoso.com".into()],
            usage_location: Some("PL".into()),
            licenses: vec![LicenseAssignment {
                sku_id: SAMPLE_SKU,
                assigned_by_group: Some(Uuid::from_u128(9)),
                state: "Active".into(),
            }],
            admin_roles: Some(vec![]),
        }),
        mailbox: Some(MailboxState {
            external_directory_object_id: id,
            primary_smtp_address: "ada@contoso.com".into(),
            email_addresses: vec![
                "SMTP:ada@contoso.com".into(),
                "smtp:ada@contoso.onmicrosoft.com".into(),
            ],
            recipient_type_details: "UserMailbox".into(),
            is_dir_synced: true,
            is_exchange_cloud_managed: false,
        }),
        tenant: TenantRead {
            block_soft_match_enabled: false,
            block_cloud_object_takeover_through_hard_match_enabled: false,
            skus: vec![SkuSeats {
                sku_id: SAMPLE_SKU,
                sku_part_number: "ENTERPRISEPACK".into(),
                prepaid_units: 10,
                consumed_units: 10,
            }],
        },
        connect: detour_testkit::instant_world::healthy_connect_state(),
        coexistence_domain: "contoso.mail.onmicrosoft.com".into(),
        address_holder: None,
        parking_ou_in_scope: false,
        temporary_sku: SAMPLE_SKU,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        sample_facts()
    }

    fn refusal(diagnosis: Diagnosis) -> Refusal {
        match diagnosis {
            Diagnosis::Refused { refusal, .. } => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_seeds_user_gets_the_round_trip_with_its_diff() {
        let Diagnosis::Plan(plan) = diagnose(&facts(), true) else {
            panic!()
        };
        assert_eq!(
            plan.strategy,
            Strategy::RoundTrip,
            "Connect 2.4 cannot do cloud-managed"
        );
        assert_eq!(
            plan.address.to_string(),
            "smtp:ada@contoso.mail.onmicrosoft.com"
        );
        assert_eq!(plan.after.len(), plan.before.len() + 1);
        assert_eq!(plan.hash(), plan.clone().hash(), "stable");
        let mut other = plan.clone();
        other.address = ProxyAddress::parse("smtp:x@contoso.mail.onmicrosoft.com").unwrap();
        assert_ne!(other.hash(), plan.hash());
    }

    #[test]
    fn a_new_enough_connect_takes_the_cloud_managed_path_when_preferred() {
        let mut f = facts();
        f.connect.connect_version = "2.5.79.0".into();
        assert!(matches!(
            diagnose(&f, true),
            Diagnosis::Plan(Plan {
                strategy: Strategy::CloudManaged,
                ..
            })
        ));
        assert!(matches!(
            diagnose(&f, false),
            Diagnosis::Plan(Plan {
                strategy: Strategy::RoundTrip,
                ..
            })
        ));
        // No deletion on that path, so the matching and seat refusals do not apply to it.
        f.tenant.block_soft_match_enabled = true;
        assert!(matches!(
            diagnose(&f, true),
            Diagnosis::Plan(Plan {
                strategy: Strategy::CloudManaged,
                ..
            })
        ));
    }

    #[test]
    fn an_address_already_there_is_nothing_to_do() {
        let mut f = facts();
        f.mailbox
            .as_mut()
            .unwrap()
            .email_addresses
            .push("smtp:ADA@contoso.mail.onmicrosoft.com".into());
        assert!(matches!(diagnose(&f, true), Diagnosis::NothingToDo { .. }));
    }

    #[test]
    fn every_unsafe_case_is_refused_with_its_reason() {
        type Tweak = fn(&mut Facts);
        let cases: [(Tweak, Refusal); 11] = [
            (|f| f.cloud = None, Refusal::UserNotInCloud),
            (
                |f| f.cloud.as_mut().unwrap().on_premises_sync_enabled = Some(false),
                Refusal::NotSynced,
            ),
            (|f| f.mailbox = None, Refusal::NoMailbox),
            (
                |f| f.address_holder = Some("bob@contoso.com".into()),
                Refusal::AddressHeldElsewhere,
            ),
            (
                |f| f.connect.scheduler.staging_mode_enabled = true,
                Refusal::StagingMode,
            ),
            (
                |f| f.connect.scheduler.scheduler_suspended = true,
                Refusal::SchedulerSuspended,
            ),
            (
                |f| f.tenant.block_soft_match_enabled = true,
                Refusal::MatchingBlocked,
            ),
            (
                |f| {
                    f.tenant
                        .block_cloud_object_takeover_through_hard_match_enabled = true
                },
                Refusal::MatchingBlocked,
            ),
            (
                |f| {
                    f.cloud.as_mut().unwrap().admin_roles =
                        Some(vec!["Exchange Administrator".into()])
                },
                Refusal::AdminRole,
            ),
            (|f| f.parking_ou_in_scope = true, Refusal::ParkingOuInScope),
            (
                |f| f.cloud.as_mut().unwrap().licenses.clear(),
                Refusal::NoFreeSeat,
            ),
        ];
        for (tweak, expected) in cases {
            let mut f = facts();
            tweak(&mut f);
            assert_eq!(refusal(diagnose(&f, false)), expected);
        }
        // A user without the SKU is fine when a seat is free.
        let mut f = facts();
        f.cloud.as_mut().unwrap().licenses.clear();
        f.tenant.skus[0].consumed_units = 9;
        assert!(matches!(diagnose(&f, false), Diagnosis::Plan(_)));
    }
}
