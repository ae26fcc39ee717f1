//! The remediation ladder: the rungs this deployment allows, gentlest first, each with the
//! conditions under which it can fix the user. The first that applies is the plan; every rung
//! passed over goes into the plan with its reason, so the ticket can say why the gentler ways
//! were not taken. Pure: facts in, a choice or a refusal out.

use detour_contracts::{ProxyAddress, cloud_directory::CloudUserState, sync_trigger::SyncClient};

use super::diagnosis::{Facts, Missing, Refusal, Skipped, Strategy};

/// Cloud-managed Exchange attributes of a mailbox need Connect 2.5.190.0 or later (current
/// prerequisites; 2.5.76.0 was the preview's) (domain-2026.md 2.1).
pub const CLOUD_MANAGED_FROM: [u32; 4] = [2, 5, 190, 0];

/// Object-level source of authority for users needs Connect 2.5.76.0 or later (or the Cloud
/// Sync agent 1.1.1370.0) (domain-2026.md 3.4).
pub const USER_CLOUD_MANAGED_FROM: [u32; 4] = [2, 5, 76, 0];

/// The rung taken, the gentler ones passed over, and the later ones that apply too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub strategy: Strategy,
    pub skipped: Vec<Skipped>,
    pub fallbacks: Vec<Strategy>,
}

/// The rung to take, or why none can be taken.
pub fn choose(
    facts: &Facts,
    cloud: &CloudUserState,
    address: &ProxyAddress,
    missing: Missing,
) -> Result<Choice, (Refusal, String)> {
    let verdict = |strategy: &Strategy| match strategy {
        Strategy::OnPremisesStamp => on_premises_stamp(facts, address, missing),
        Strategy::CloudManaged => cloud_managed(facts),
        Strategy::UserCloudManaged => user_cloud_managed(facts, cloud),
        Strategy::RoundTrip => round_trip(facts, cloud),
    };
    let mut skipped = Vec::new();
    let mut last_refusal = None;
    for (index, strategy) in facts.strategies.iter().enumerate() {
        match verdict(strategy) {
            Ok(()) => {
                let fallbacks = facts.strategies[index + 1..]
                    .iter()
                    .filter(|later| verdict(later).is_ok())
                    .copied()
                    .collect();
                return Ok(Choice {
                    strategy: *strategy,
                    skipped,
                    fallbacks,
                });
            }
            Err((refusal, reason)) => {
                skipped.push(Skipped {
                    strategy: *strategy,
                    reason: reason.clone(),
                });
                last_refusal = Some((refusal, reason));
            }
        }
    }
    let passed_over: Vec<String> = skipped
        .iter()
        .map(|s| format!("{:?}: {}", s.strategy, s.reason))
        .collect();
    Err(match last_refusal {
        Some((refusal, _)) => (refusal, passed_over.join("; ")),
        None => (
            Refusal::NoStrategyAllowed,
            "saga.strategies allows no way to fix a user".into(),
        ),
    })
}

type Verdict = Result<(), (Refusal, String)>;

/// Microsoft's documented fix for a missing routing address: stamp it on-premises, sync.
fn on_premises_stamp(facts: &Facts, address: &ProxyAddress, missing: Missing) -> Verdict {
    let skip = |reason: String| Err((Refusal::NoStrategyAllowed, reason));
    if missing == Missing::Moera {
        return skip("the MOERA is made by the cloud only: adding it in AD does nothing".into());
    }
    if facts.ad.proxy_addresses.iter().any(|a| address.same_as(a)) {
        return skip(format!(
            "AD already holds {} and the cloud does not show it: the cloud discards AD's value",
            address.address()
        ));
    }
    connect_exports(facts)
}

/// Cloud Sync honours cloud-managed Exchange attributes since 2026-01-23 (domain-2026.md
/// 1.3); a Connect server from 2.5.190.0.
fn cloud_managed(facts: &Facts) -> Verdict {
    let version = &facts.connect.connect_version;
    if facts.connect.sync_client == SyncClient::CloudSync {
        return Ok(());
    }
    if !version_at_least(version, CLOUD_MANAGED_FROM) {
        return Err((
            Refusal::NoStrategyAllowed,
            format!(
                "Connect {version} is older than 2.5.190.0, which cloud-managed Exchange \
                 attributes need"
            ),
        ));
    }
    Ok(())
}

/// The whole user cloud-managed; handed back to AD after, where policy says so, which takes a
/// cycle that exports and a takeover the 2026 hardening refuses for privileged users.
fn user_cloud_managed(facts: &Facts, cloud: &CloudUserState) -> Verdict {
    let version = &facts.connect.connect_version;
    if facts.connect.sync_client == SyncClient::CloudSync {
        // Needs agent 1.1.1370.0 (domain-2026.md 3.4), a version Graph does not show.
        return Err((
            Refusal::NoStrategyAllowed,
            "a cloud-managed user needs Cloud Sync agent 1.1.1370.0 or later, and Graph does \
             not show which agent runs"
                .into(),
        ));
    }
    if !version_at_least(version, USER_CLOUD_MANAGED_FROM) {
        return Err((
            Refusal::NoStrategyAllowed,
            format!("Connect {version} is older than 2.5.76.0, which a cloud-managed user needs"),
        ));
    }
    if facts.return_user_to_ad {
        connect_exports(facts)?;
        not_privileged(cloud)?;
    }
    Ok(())
}

/// Hard match, which a user coming back from the cloud needs, is refused for users who hold
/// or are eligible for a privileged role (MC1263280; domain-2026.md 3.5).
fn not_privileged(cloud: &CloudUserState) -> Verdict {
    match &cloud.admin_roles {
        Some(roles) if roles.is_empty() => Ok(()),
        Some(roles) => Err((
            Refusal::AdminRole,
            format!(
                "{} holds or is eligible for {}: matching refuses privileged users",
                cloud.user_principal_name,
                roles.join(", ")
            ),
        )),
        // Unknown is not "none": an administrator must never be descoped.
        None => Err((
            Refusal::AdminRole,
            format!(
                "{}'s directory roles were not read: an administrator cannot be ruled out",
                cloud.user_principal_name
            ),
        )),
    }
}

/// The seed's round trip, with every pre-flight check that keeps a user from being left
/// deleted, out of scope or doubled.
fn round_trip(facts: &Facts, cloud: &CloudUserState) -> Verdict {
    connect_exports(facts)?;
    // The restored user returns by hard match if it kept its immutableId, else by soft match
    // (a disputed point, domain.md section 5): either block stops the round trip.
    if facts.tenant.block_soft_match_enabled
        || facts
            .tenant
            .block_cloud_object_takeover_through_hard_match_enabled
    {
        return Err((
            Refusal::MatchingBlocked,
            "the tenant blocks soft match or hard-match takeover: the user could not re-link"
                .into(),
        ));
    }
    // Soft match is by primary SMTP address, by UPN only where the tenant enabled it
    // (domain-2026.md 3.3): the fallback if the restored user comes back without its anchor.
    let primary_smtp = facts
        .ad
        .proxy_addresses
        .iter()
        .any(|a| a.starts_with("SMTP:"));
    if !primary_smtp && !facts.tenant.soft_match_on_upn_enabled {
        return Err((
            Refusal::NoRematch,
            format!(
                "{} has no primary SMTP address in AD and the tenant does not soft-match on \
                 the UPN: a restored user that lost its anchor could not re-link",
                facts.ad.sam_account_name
            ),
        ));
    }
    not_privileged(cloud)?;
    if facts.parking_ou_in_scope {
        return Err((
            Refusal::ParkingOuInScope,
            "the parking OU is in sync scope: moving there would not descope the user".into(),
        ));
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
        return Err((
            Refusal::NoFreeSeat,
            format!(
                "no free seat of {} for the temporary licence",
                facts.temporary_sku
            ),
        ));
    }
    Ok(())
}

/// A rung that needs a sync cycle needs Connect to export.
fn connect_exports(facts: &Facts) -> Verdict {
    let scheduler = &facts.connect.scheduler;
    if scheduler.staging_mode_enabled {
        return Err((
            Refusal::StagingMode,
            "this Connect server is in staging mode and exports nothing".into(),
        ));
    }
    if scheduler.scheduler_suspended {
        let why = match facts.connect.sync_client {
            SyncClient::CloudSync => "the Cloud Sync job is paused or in quarantine",
            SyncClient::Connect => "Connect's scheduler is suspended (an upgrade or the wizard)",
        };
        return Err((Refusal::SchedulerSuspended, why.into()));
    }
    Ok(())
}

fn version_at_least(version: &str, minimum: [u32; 4]) -> bool {
    let mut parts = [0u32; 4];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        *slot = part.trim().parse().unwrap_or(0);
    }
    parts >= minimum
}
