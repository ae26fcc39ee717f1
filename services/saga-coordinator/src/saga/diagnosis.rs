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

use super::{ladder, plan_hash::PlanHash};
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
    /// The rungs this deployment allows, in the order it prefers them.
    pub strategies: Vec<Strategy>,
    /// Whether a user made cloud-managed goes back to AD once fixed (`saga.return_user_to_ad`).
    pub return_user_to_ad: bool,
    /// Whether a mailbox made cloud-managed goes back to AD once fixed
    /// (`saga.return_mailbox_to_ad`).
    pub return_mailbox_to_ad: bool,
    /// The domains Exchange Online accepts mail for.
    pub accepted_domains: Vec<String>,
    /// Another object that already holds the address, if a lookup found one.
    pub address_holder: Option<String>,
    /// The OU the user would be parked in, and whether Connect syncs it.
    pub parking_ou_in_scope: bool,
    /// The SKU given directly while the group's is gone.
    pub temporary_sku: Uuid,
}

/// The rungs of the ladder, gentlest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Stamp the routing address on the AD user and sync it: Microsoft's documented fix for a
    /// missing `tenant.mail.onmicrosoft.com` address (domain-2026.md 3.2). No cloud write.
    OnPremisesStamp,
    /// Exchange attributes managed in the cloud: set the flag, add the address (no deletion)
    /// [S36] (domain-2026.md 2.1).
    CloudManaged,
    /// The whole user cloud-managed (object-level source of authority), the address added in
    /// Exchange Online, then, by policy, handed back to AD the way Microsoft documents
    /// (domain-2026.md 3.4). No deletion.
    UserCloudManaged,
    /// The seed's round trip through deletion and restore: last.
    RoundTrip,
}

impl Strategy {
    /// Every rung, gentlest first: the default `saga.strategies`.
    pub const LADDER: [Strategy; 4] = [
        Strategy::OnPremisesStamp,
        Strategy::CloudManaged,
        Strategy::UserCloudManaged,
        Strategy::RoundTrip,
    ];

    /// How a ticket names it.
    pub fn words(self) -> &'static str {
        match self {
            Strategy::OnPremisesStamp => "adding the address in Active Directory and syncing it",
            Strategy::CloudManaged => {
                "making the mailbox's Exchange attributes cloud-managed (no deletion)"
            }
            Strategy::UserCloudManaged => {
                "making the whole user cloud-managed for the change (no deletion)"
            }
            Strategy::RoundTrip => {
                "the round trip: out of sync scope, restore, add the address, back into scope"
            }
        }
    }
}

/// A gentler rung the plan passed over, and why it does not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub strategy: Strategy,
    pub reason: String,
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
    /// The deployment's `saga.strategies` allows no rung that applies.
    NoStrategyAllowed,
    /// Exchange Online does not accept the coexistence domain: no routing address can work
    /// until the hybrid configuration adds it (domain-2026.md 3.2, step 1).
    CoexistenceDomainNotAccepted,
    /// Sync could not write part of the user (a conflicting UPN or proxy address): that comes
    /// first, and no rung here fixes it (domain-2026.md 2.3).
    ProvisioningErrors,
    /// Should the restored user lose its anchor, no soft-match rule could re-link it: no primary
    /// SMTP address in AD, and the tenant does not soft-match on the UPN.
    NoRematch,
    /// Entra ID holds the address but Exchange Online does not: a forward-sync problem
    /// between them that only Microsoft support can fix (domain-2026.md 3.2, step 1).
    ForwardSyncProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub strategy: Strategy,
    /// The address to add: the routing address when it is missing, else the MOERA.
    pub address: ProxyAddress,
    /// Which address `address` is.
    #[serde(default = "Missing::routing")]
    pub missing: Missing,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// The gentler rungs passed over, gentlest first, each with its reason.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// The rungs after this one that apply too, in order: tried next if this one turns out
    /// not to work here and is undone (a stamp the cloud discards, say).
    #[serde(default)]
    pub fallbacks: Vec<Strategy>,
    /// On the cloud-managed rungs: hand the mailbox's Exchange attributes (or the whole user)
    /// back to AD once fixed.
    #[serde(default)]
    pub back_to_ad: bool,
    /// The routing address is missing and so is the MOERA: once this plan has added the
    /// first, the user is diagnosed again for the second, with a plan of its own.
    #[serde(default)]
    pub moera_missing_too: bool,
}

/// Which of the two tenant addresses a plan adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Missing {
    /// `alias@tenant.mail.onmicrosoft.com`, the hybrid routing address.
    Routing,
    /// `alias@tenant.onmicrosoft.com`, made by the cloud only.
    Moera,
}

impl Missing {
    fn routing() -> Self {
        Missing::Routing
    }

    pub fn words(self) -> &'static str {
        match self {
            Missing::Routing => "the hybrid routing address",
            Missing::Moera => "the MOERA (the initial-domain address the cloud makes)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Diagnosis {
    NothingToDo { address: ProxyAddress },
    Refused { refusal: Refusal, detail: String },
    Plan(Plan),
}

pub fn diagnose(facts: &Facts) -> Diagnosis {
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
    if !cloud.provisioning_errors.is_empty() {
        return refuse(
            Refusal::ProvisioningErrors,
            format!(
                "{} has provisioning errors to resolve first: {}",
                cloud.user_principal_name,
                cloud.provisioning_errors.join("; ")
            ),
        );
    }
    let Some(mailbox) = &facts.mailbox else {
        return refuse(
            Refusal::NoMailbox,
            format!("{} has no active mailbox", cloud.user_principal_name),
        );
    };
    let routing = match coexistence_address(cloud, &facts.coexistence_domain) {
        Ok(address) => address,
        Err(error) => return refuse(Refusal::NoValidAddress, error.to_string()),
    };
    let has = |address: &ProxyAddress| mailbox.email_addresses.iter().any(|a| address.same_as(a));
    let moera = moera_state(cloud, mailbox, &facts.coexistence_domain);
    let moera_missing = matches!(moera, Moera::Missing(_));
    let (address, missing) = match (has(&routing), moera) {
        (false, _) => (routing, Missing::Routing),
        (true, Moera::Missing(moera)) => (moera, Missing::Moera),
        (true, Moera::Present | Moera::Unknown) => {
            return Diagnosis::NothingToDo { address: routing };
        }
    };
    if missing == Missing::Routing
        && !facts
            .accepted_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&facts.coexistence_domain))
    {
        return refuse(
            Refusal::CoexistenceDomainNotAccepted,
            format!(
                "Exchange Online does not accept {}: add it to the accepted domains (the hybrid \
                 configuration does) before any address on it can route",
                facts.coexistence_domain
            ),
        );
    }
    if cloud.proxy_addresses.iter().any(|a| address.same_as(a)) {
        return refuse(
            Refusal::ForwardSyncProblem,
            format!(
                "Entra ID shows {} on {} but Exchange Online does not: a sync problem between \
                 the two that no change here can fix; escalate to Microsoft support",
                address.address(),
                cloud.user_principal_name
            ),
        );
    }
    if missing == Missing::Routing
        && let Some(holder) = &facts.address_holder
    {
        return refuse(
            Refusal::AddressHeldElsewhere,
            format!("{} already belongs to {holder}", address.address()),
        );
    }
    match ladder::choose(facts, cloud, &address, missing) {
        Ok(choice) => {
            let mut after = mailbox.email_addresses.clone();
            after.push(address.to_string());
            Diagnosis::Plan(Plan {
                strategy: choice.strategy,
                address,
                missing,
                before: mailbox.email_addresses.clone(),
                after,
                skipped: choice.skipped,
                fallbacks: choice.fallbacks,
                back_to_ad: match choice.strategy {
                    Strategy::CloudManaged => facts.return_mailbox_to_ad,
                    Strategy::UserCloudManaged => facts.return_user_to_ad,
                    Strategy::OnPremisesStamp | Strategy::RoundTrip => false,
                },
                moera_missing_too: missing == Missing::Routing && moera_missing,
            })
        }
        Err((refusal, detail)) => refuse(refusal, detail),
    }
}

/// What Exchange shows of the MOERA.
enum Moera {
    /// There, as `alias@` or, after a name collision, `alias` and four digits: nothing to fix.
    Present,
    Missing(ProxyAddress),
    /// No initial domain can be told from the coexistence domain: not judged.
    Unknown,
}

/// The initial domain (`contoso.onmicrosoft.com`) of a coexistence domain
/// (`contoso.mail.onmicrosoft.com`).
pub fn initial_domain(coexistence_domain: &str) -> Option<String> {
    let tenant = coexistence_domain
        .to_ascii_lowercase()
        .strip_suffix(".mail.onmicrosoft.com")?
        .to_owned();
    Some(format!("{tenant}.onmicrosoft.com"))
}

fn moera_state(cloud: &CloudUserState, mailbox: &MailboxState, coexistence_domain: &str) -> Moera {
    let Some(domain) = initial_domain(coexistence_domain) else {
        return Moera::Unknown;
    };
    let alias = alias(cloud).to_ascii_lowercase();
    let present = mailbox.email_addresses.iter().any(|a| {
        let Ok(address) = ProxyAddress::parse(a) else {
            return false;
        };
        let Some((local, at)) = address.address().rsplit_once('@') else {
            return false;
        };
        let local = local.to_ascii_lowercase();
        // A taken alias gets four random digits [KB 3190357, scenario 6].
        let collided = local
            .strip_prefix(&alias)
            .is_some_and(|rest| rest.len() == 4 && rest.bytes().all(|b| b.is_ascii_digit()));
        address.is_smtp() && at.eq_ignore_ascii_case(&domain) && (local == alias || collided)
    });
    match ProxyAddress::parse(&format!("smtp:{alias}@{domain}")) {
        _ if present => Moera::Present,
        Ok(moera) => Moera::Missing(moera),
        Err(_) => Moera::Unknown,
    }
}

/// The user's alias: its mailNickname, else the UPN's name.
fn alias(cloud: &CloudUserState) -> String {
    cloud.mail_nickname.clone().unwrap_or_else(|| {
        cloud
            .user_principal_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned()
    })
}

/// The address the user should have: its alias (mailNickname, else the UPN's name) at the
/// coexistence domain, as a secondary `smtp:` address.
pub fn coexistence_address(
    cloud: &CloudUserState,
    coexistence_domain: &str,
) -> Result<ProxyAddress, AddressError> {
    ProxyAddress::parse(&format!("smtp:{}@{coexistence_domain}", alias(cloud)))
}

impl Plan {
    /// The plan on the next rung that applies, after this one was tried and undone for
    /// `reason`; `None` when there is no rung left.
    pub fn fallback(&self, reason: &str) -> Option<Plan> {
        let (&next, rest) = self.fallbacks.split_first()?;
        let mut skipped = self.skipped.clone();
        skipped.push(Skipped {
            strategy: self.strategy,
            reason: format!("tried and undone: {reason}"),
        });
        Some(Plan {
            strategy: next,
            skipped,
            fallbacks: rest.to_vec(),
            ..self.clone()
        })
    }

    /// A stable fingerprint of what will change, which an approval must name.
    pub fn hash(&self) -> PlanHash {
        // Whether the user goes back to AD is part of what an approval approves.
        let strategy = match self.back_to_ad {
            true => format!("{:?}, back to AD", self.strategy),
            false => format!("{:?}", self.strategy),
        };
        PlanHash::of(&format!(
            "{}|{}|{}|{}",
            strategy,
            self.address,
            self.before.join(","),
            self.after.join(",")
        ))
    }
}

/// The temporary SKU of [`sample_facts`].
#[cfg(test)]
pub(crate) const SAMPLE_SKU: Uuid = Uuid::from_u128(0xE3);

/// The seed's user as the reads find it: synced, group-licensed, lacking the routing address
/// in Exchange though AD holds it.
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
            // The admin's own try, which the cloud discards (the seed's experience).
            proxy_addresses: vec![
                "SMTP:ada@contoso.com".into(),
                "smtp:ada@contoso.mail.onmicrosoft.com".into(),
            ],
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
            provisioning_errors: Vec::new(),
            on_premises_last_sync: None,
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
            soft_match_on_upn_enabled: false,
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
        strategies: Strategy::LADDER.to_vec(),
        return_user_to_ad: true,
        return_mailbox_to_ad: false,
        accepted_domains: vec![
            "contoso.com".into(),
            "contoso.onmicrosoft.com".into(),
            "contoso.mail.onmicrosoft.com".into(),
        ],
        address_holder: None,
        parking_ou_in_scope: false,
        temporary_sku: SAMPLE_SKU,
    }
}

#[cfg(test)]
mod tests;
