//! What the instant world answers: the AD user and its moves, the cloud user, mailbox and
//! tenant of a healthy round trip, and sync runs that saw exactly what the saga changed.

use detour_contracts::{
    Dn,
    ad_ops::{AdUserSnapshot, FindUser, UserFound, UserLookup, UserMoved},
    cloud_directory::{CloudUserState, LicenseAssignment, SkuSeats, TenantRead},
    connect_agent::{ObjectOutcome, ObjectResult, PolicyType, RunOutcome, SchedulerState},
    mailbox_ops::MailboxState,
    sync_trigger::{
        ConnectStateRead, RequestSyncCycle, RunSeen, RunStats, SyncClient, SyncCycleCompleted,
    },
};
use uuid::Uuid;

use super::{InstantWorld, WORLD_BASE, WORLD_DOMAIN, WORLD_SKU};

impl InstantWorld {
    pub(super) fn find(&self, command: FindUser) -> UserFound {
        let (object_guid, upn) = match command.lookup {
            UserLookup::UserPrincipalName(upn) => {
                let guid = Self::object_guid(&upn);
                self.lock().object_upns.insert(guid, upn.clone());
                (guid, upn)
            }
            UserLookup::ObjectGuid(guid) => (guid, format!("{}@bench.example", guid.simple())),
            UserLookup::SamAccountName(sam) => {
                let upn = format!("{sam}@bench.example");
                (Self::object_guid(&upn), upn)
            }
        };
        // Every move changes the object; the stand-in reports that, but enforces no fence
        // (ad-ops does, against the real directory).
        let usn_changed = self
            .lock()
            .effects
            .get(&object_guid)
            .map_or(0, |e| u64::from(e.descoped + e.rescoped));
        UserFound {
            snapshot: AdUserSnapshot {
                object_guid,
                usn_changed,
                distinguished_name: dn(&format!(
                    "CN={},OU=Staff,{WORLD_BASE}",
                    object_guid.simple()
                )),
                consistency_guid: None,
                sam_account_name: upn.split('@').next().unwrap_or_default().to_owned(),
                // The seed's situation: AD holds the routing address, the cloud discards it,
                // so the ladder comes down to the round trip this world answers.
                proxy_addresses: vec![
                    format!("SMTP:{upn}"),
                    format!(
                        "smtp:{}@{WORLD_DOMAIN}",
                        upn.split('@').next().unwrap_or_default()
                    ),
                ],
                user_principal_name: Some(upn),
                member_of: Vec::new(),
                admin_description: None,
            },
        }
    }

    /// Moves are idempotent: a move to where the user already is changes nothing.
    pub(super) fn moved(&self, object_guid: Uuid, park: bool) -> UserMoved {
        let mut state = self.lock();
        let parked = state.parked.entry(object_guid).or_insert(false);
        let already_there = *parked == park;
        *parked = park;
        let now_parked = state.parked.values().filter(|p| **p).count();
        state.most_parked = state.most_parked.max(now_parked);
        if !already_there {
            let effects = state.effects.entry(object_guid).or_default();
            if park {
                effects.descoped += 1;
            } else {
                effects.rescoped += 1;
            }
        }
        let staff = dn(&format!(
            "CN={},OU=Staff,{WORLD_BASE}",
            object_guid.simple()
        ));
        let parked_dn = dn(&format!(
            "CN={},OU=Parked,{WORLD_BASE}",
            object_guid.simple()
        ));
        let (from, to) = if park {
            (staff, parked_dn)
        } else {
            (parked_dn, staff)
        };
        UserMoved {
            object_guid,
            from,
            to,
            already_there,
        }
    }

    /// A parked user's cloud user is deleted by the cycle (once); one back in scope is
    /// matched again (once); a cycle that finds nothing new reports the same outcome and
    /// counts nothing.
    pub(super) fn sync(&self, command: RequestSyncCycle) -> SyncCycleCompleted {
        let mut guard = self.lock();
        let state = &mut *guard;
        let objects = command
            .objects
            .iter()
            .map(|guid| {
                let parked = state.parked.get(guid).copied().unwrap_or(false);
                let cloud_id = state.object_upns.get(guid).map(|upn| Self::cloud_id(upn));
                let effects = state.effects.entry(*guid).or_default();
                let outcome = if parked {
                    if state.out_of_cloud.insert(*guid) {
                        effects.deleted_by_sync += 1;
                        state.deleted.extend(cloud_id);
                    }
                    ObjectOutcome::Deleted
                } else {
                    if state.out_of_cloud.remove(guid) {
                        effects.matched_by_sync += 1;
                    }
                    ObjectOutcome::Matched
                };
                ObjectResult {
                    object_guid: *guid,
                    distinguished_name: format!("CN={},OU=Staff,{WORLD_BASE}", guid.simple()),
                    outcome,
                    cloud_object_id: None,
                    detail: String::new(),
                }
            })
            .collect();
        SyncCycleCompleted {
            runs: vec![RunSeen {
                run_id: Uuid::new_v4(),
                policy_type: command.policy_type,
                outcome: RunOutcome::Success,
                start_date: command.since,
                objects,
                stats: RunStats::default(),
            }],
            requests_coalesced: 1,
        }
    }
}

/// The same id for the same name, every run (FNV-1a over the kind and the lowercased name).
pub(super) fn stable_id(kind: &str, name: &str) -> Uuid {
    let hash = |seed: u64| {
        format!("{kind}/{}", name.to_lowercase())
            .bytes()
            .fold(seed, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    };
    Uuid::from_u64_pair(hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4))
}

impl InstantWorld {
    /// A synced, group-licensed user; it shows the coexistence address once the round trip
    /// has added it (so the final check passes at once then), as its mailbox does.
    pub(super) fn cloud_user(&self, user: &str) -> CloudUserState {
        let id = Self::cloud_id(user);
        let mut state = self.lock();
        if user.contains('@') {
            state.upns.insert(id, user.to_owned());
        }
        let upn = state
            .upns
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("{id}@bench.example"));
        let mut user = healthy_user(id, &upn);
        let alias = upn.split('@').next().unwrap_or(&upn).to_owned();
        let address = format!("{alias}@{WORLD_DOMAIN}");
        if state.addressed.contains(&format!(
            "{}|{}",
            upn.to_lowercase(),
            address.to_lowercase()
        )) {
            user.proxy_addresses.push(format!("smtp:{address}"));
        }
        user
    }

    /// The user's mailbox: its primary address and MOERA, and the coexistence address once
    /// the remediation has added it, as the cloud user shows them.
    pub(super) fn mailbox(&self, identity: &str) -> MailboxState {
        let user = self.cloud_user(identity);
        let alias = identity.split('@').next().unwrap_or(identity);
        let mut email_addresses = user.proxy_addresses;
        email_addresses.insert(1, format!("smtp:{alias}@bench.onmicrosoft.com"));
        MailboxState {
            external_directory_object_id: user.id,
            primary_smtp_address: identity.to_owned(),
            email_addresses,
            recipient_type_details: "UserMailbox".into(),
            is_dir_synced: false,
            is_exchange_cloud_managed: false,
        }
    }
}

fn healthy_user(id: Uuid, upn: &str) -> CloudUserState {
    let alias = upn.split('@').next().unwrap_or(upn).to_owned();
    CloudUserState {
        id,
        user_principal_name: upn.to_owned(),
        mail_nickname: Some(alias.clone()),
        on_premises_sync_enabled: Some(true),
        on_premises_immutable_id: Some("anchor".into()),
        on_premises_distinguished_name: None,
        proxy_addresses: vec![format!("SMTP:{upn}")],
        usage_location: Some("PL".into()),
        licenses: vec![LicenseAssignment {
            sku_id: WORLD_SKU,
            assigned_by_group: Some(Uuid::from_u128(1)),
            state: "Active".into(),
        }],
        admin_roles: Some(Vec::new()),
        provisioning_errors: Vec::new(),
        on_premises_last_sync: None,
    }
}

pub(super) fn tenant() -> TenantRead {
    TenantRead {
        block_soft_match_enabled: false,
        soft_match_on_upn_enabled: false,
        block_cloud_object_takeover_through_hard_match_enabled: false,
        skus: vec![SkuSeats {
            sku_id: WORLD_SKU,
            sku_part_number: "ENTERPRISEPACK".into(),
            prepaid_units: 100_000,
            consumed_units: 1,
        }],
    }
}

/// A Connect server at rest: 2.4 (no cloud-managed path), scheduler running, not staging,
/// the default deletion threshold, syncing the world's staff OU.
pub fn healthy_connect_state() -> ConnectStateRead {
    ConnectStateRead {
        connect_version: "2.4.18.0".into(),
        scheduler: SchedulerState {
            sync_cycle_enabled: true,
            sync_cycle_in_progress: false,
            next_sync_cycle_policy_type: PolicyType::Delta,
            next_sync_cycle_start_time_in_utc: None,
            currently_effective_sync_cycle_interval_seconds: 1800,
            staging_mode_enabled: false,
            scheduler_suspended: false,
        },
        deletion_threshold_enabled: true,
        deletion_threshold: 500,
        included_containers: vec![dn(&format!("OU=Staff,{WORLD_BASE}"))],
        sync_client: SyncClient::Connect,
    }
}

/// A DN this world writes itself: always well-formed.
fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap_or_else(|error| unreachable!("{text}: {error}"))
}
