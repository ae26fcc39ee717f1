//! One Entra Connect sync cycle over a snapshot of AD, as pure data: scope, exports, deletions
//! with the accidental-delete threshold, recycle-bin restores, hard and soft matching, group
//! membership [S17][S19][S20][S21][S22].

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use detour_contracts::connect_agent::{
    ConnectorCounters, ObjectOutcome, ObjectResult, PolicyType, RunOutcome, RunResult,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CloudUser, ConnectorEntry, World, addresses, source_of_authority::Authority};

/// AD as one cycle's import saw it.
#[derive(Debug, Clone, Default)]
pub struct AdSnapshot {
    pub users: Vec<AdUser>,
    pub groups: Vec<AdGroup>,
}

#[derive(Debug, Clone)]
pub struct AdUser {
    pub object_guid: Uuid,
    /// `mS-DS-ConsistencyGuid`, raw bytes, when set.
    pub consistency_guid: Option<Vec<u8>>,
    pub distinguished_name: String,
    pub sam_account_name: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub mail: Option<String>,
    pub proxy_addresses: Vec<String>,
    /// Other attributes the scope filter may look at, lower-case names.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct AdGroup {
    pub distinguished_name: String,
    pub members: Vec<String>,
}

impl AdUser {
    /// The source anchor: base64 of `mS-DS-ConsistencyGuid`, else of objectGUID, in AD's byte
    /// order [S21][S46-itpro].
    pub fn anchor(&self) -> String {
        let bytes = self
            .consistency_guid
            .clone()
            .unwrap_or_else(|| self.object_guid.to_bytes_le().to_vec());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn primary_smtp(&self) -> Option<&str> {
        addresses::primary_smtp(&self.proxy_addresses)
    }
}

enum Join {
    Restored(Uuid),
    HardMatch(Uuid),
    SoftMatch(Uuid, &'static str),
    Create,
    Refused(String),
}

#[derive(Default)]
struct Tally {
    objects: Vec<ObjectResult>,
    adds: u32,
    updates: u32,
    deletes: u32,
    errors: u32,
}

impl Tally {
    fn counters(&self, initial_domain: &str) -> ConnectorCounters {
        ConnectorCounters {
            connector_name: format!("{initial_domain} - AAD"),
            adds: self.adds,
            updates: self.updates,
            deletes: self.deletes,
            errors: self.errors,
        }
    }

    fn record(
        &mut self,
        ad: (Uuid, &str),
        outcome: ObjectOutcome,
        cloud: Option<Uuid>,
        detail: impl Into<String>,
    ) {
        match outcome {
            ObjectOutcome::Added => self.adds += 1,
            ObjectOutcome::Updated | ObjectOutcome::Matched => self.updates += 1,
            ObjectOutcome::Deleted => self.deletes += 1,
            ObjectOutcome::Error => self.errors += 1,
            ObjectOutcome::Filtered => {}
        }
        self.objects.push(ObjectResult {
            object_guid: ad.0,
            distinguished_name: ad.1.to_owned(),
            outcome,
            cloud_object_id: cloud,
            detail: detail.into(),
        });
    }
}

impl World {
    fn in_scope(&self, user: &AdUser) -> bool {
        // A DN that does not parse is in no container.
        let in_ou = detour_contracts::Dn::parse(&user.distinguished_name)
            .is_ok_and(|dn| dn.is_within_any(&self.connect.scope_ous));
        let filtered = self
            .connect
            .filter_attribute
            .as_ref()
            .is_some_and(|attribute| {
                user.attributes
                    .get(&attribute.to_ascii_lowercase())
                    .is_some_and(|value| value.starts_with(&self.connect.filter_prefix))
            });
        in_ou && !filtered
    }

    /// Runs one cycle over `ad` and returns its result; the world changes only when the cycle
    /// exports (not past the deletion threshold).
    pub fn run_sync(
        &mut self,
        ad: &AdSnapshot,
        run_id: Uuid,
        policy_type: PolicyType,
        started: OffsetDateTime,
        now: OffsetDateTime,
    ) -> RunResult {
        let mut tally = Tally::default();
        let in_scope: Vec<&AdUser> = ad.users.iter().filter(|u| self.in_scope(u)).collect();
        let present: BTreeSet<String> = in_scope.iter().map(|u| u.anchor()).collect();
        let leaving: Vec<ConnectorEntry> = self
            .connect
            .connector_space
            .values()
            .filter(|entry| !present.contains(&entry.anchor))
            // Sync deletes nothing whose source of authority is the cloud.
            .filter(|entry| {
                !self
                    .users
                    .get(&entry.cloud_object_id)
                    .is_some_and(|u| u.cloud_managed)
            })
            .cloned()
            .collect();

        let threshold = self.connect.deletion_threshold;
        let outcome = if self.connect.deletion_threshold_enabled && leaving.len() as u32 > threshold
        {
            // Export stops before deleting anything, and nothing else is exported either [S19].
            for entry in &leaving {
                tally.record(
                    (entry.object_guid, &entry.distinguished_name),
                    ObjectOutcome::Error,
                    Some(entry.cloud_object_id),
                    format!(
                        "not deleted: {} deletions exceed the threshold of {threshold}",
                        leaving.len()
                    ),
                );
            }
            RunOutcome::StoppedDeletionThresholdExceeded
        } else {
            for entry in leaving {
                // Objects filtered out after having been synced are deleted in Entra ID [S20].
                self.soft_delete_user(entry.cloud_object_id, now);
                self.connect.connector_space.remove(&entry.anchor);
                tally.record(
                    (entry.object_guid, &entry.distinguished_name),
                    ObjectOutcome::Deleted,
                    Some(entry.cloud_object_id),
                    "left sync scope; soft-deleted in the cloud",
                );
            }
            let mut sorted = in_scope.clone();
            sorted.sort_by(|a, b| a.distinguished_name.cmp(&b.distinguished_name));
            for user in sorted {
                self.export_user(user, &mut tally, now);
            }
            // Filtered: out of scope and never exported (one just deleted was reported above).
            let deleted: BTreeSet<Uuid> = tally.objects.iter().map(|o| o.object_guid).collect();
            for user in ad
                .users
                .iter()
                .filter(|u| !self.in_scope(u) && !deleted.contains(&u.object_guid))
            {
                tally.record(
                    (user.object_guid, &user.distinguished_name),
                    ObjectOutcome::Filtered,
                    None,
                    "out of sync scope",
                );
            }
            self.sync_group_members(ad);
            self.reconcile_mailboxes(now);
            if tally.errors > 0 {
                RunOutcome::CompletedExportErrors
            } else {
                RunOutcome::Success
            }
        };
        RunResult {
            run_id,
            policy_type,
            outcome,
            start_date: started,
            end_date: Some(now),
            connectors: vec![tally.counters(&self.tenant.initial_domain)],
            objects: tally.objects,
        }
    }

    /// Cloud Sync's on-demand provisioning of one AD user: exported as a cycle would export
    /// it, with the scoping filters not applied (domain-2026.md 1.1), and nothing else
    /// touched. `None`: no such user in AD.
    pub fn provision_one(
        &mut self,
        ad: Option<&AdUser>,
        distinguished_name: &str,
        run_id: Uuid,
        now: OffsetDateTime,
    ) -> RunResult {
        let mut tally = Tally::default();
        let outcome = match ad {
            Some(user) => {
                let anchor = user.anchor();
                let restore = !self.connect.connector_space.contains_key(&anchor)
                    && matches!(self.join(user, &anchor), Join::Restored(_));
                if restore {
                    // "Restoring a previously soft-deleted user ... with on-demand provisioning
                    // isn't supported ... can result in duplicate users" (domain-2026.md 1.1).
                    let id = self.create_user(user, now);
                    self.apply_ad_values(id, user, &anchor, now);
                    self.remember(user, &anchor, id);
                    tally.record(
                        (user.object_guid, &user.distinguished_name),
                        ObjectOutcome::Added,
                        Some(id),
                        "on-demand provisioning restores no soft-deleted user: created a second one",
                    );
                } else {
                    self.export_user(user, &mut tally, now);
                }
                self.reconcile_mailboxes(now);
                if tally.errors > 0 {
                    RunOutcome::CompletedExportErrors
                } else {
                    RunOutcome::Success
                }
            }
            None => {
                tally.record(
                    (Uuid::nil(), distinguished_name),
                    ObjectOutcome::Error,
                    None,
                    format!("no object {distinguished_name} in the AD domain"),
                );
                RunOutcome::CompletedExportErrors
            }
        };
        RunResult {
            run_id,
            policy_type: PolicyType::Delta,
            outcome,
            start_date: now,
            end_date: Some(now),
            connectors: vec![tally.counters(&self.tenant.initial_domain)],
            objects: tally.objects,
        }
    }

    fn reconcile_mailboxes(&mut self, now: OffsetDateTime) {
        let ids: Vec<Uuid> = self.users.keys().copied().collect();
        for id in ids {
            self.reconcile_mailbox(id, now);
        }
    }

    fn export_user(&mut self, ad: &AdUser, tally: &mut Tally, now: OffsetDateTime) {
        let anchor = ad.anchor();
        let key = (ad.object_guid, ad.distinguished_name.as_str());
        if let Some(entry) = self.connect.connector_space.get(&anchor).cloned() {
            if !self.users.contains_key(&entry.cloud_object_id) {
                self.restore_by_sync(entry.cloud_object_id, now);
            }
            if self.users.contains_key(&entry.cloud_object_id) {
                let id = entry.cloud_object_id;
                match self.authority(id) {
                    Authority::Ad => self.ad_values_again(id),
                    Authority::Cloud(outcome, why) => {
                        tally.record(key, outcome, Some(id), why);
                        return;
                    }
                    Authority::Takeover => {
                        if let Some(reason) = self.hard_match_refusal(&self.users[&id]) {
                            tally.record(key, ObjectOutcome::Error, Some(id), reason);
                            return;
                        }
                        self.take_back(id);
                        self.apply_ad_values(id, ad, &anchor, now);
                        self.remember(ad, &anchor, id);
                        tally.record(
                            key,
                            ObjectOutcome::Matched,
                            Some(id),
                            "taken back by on-premises AD (source of authority returned)",
                        );
                        return;
                    }
                }
                if self.apply_ad_values(entry.cloud_object_id, ad, &anchor, now) {
                    tally.record(
                        key,
                        ObjectOutcome::Updated,
                        Some(entry.cloud_object_id),
                        "attributes exported",
                    );
                }
                self.remember(ad, &anchor, entry.cloud_object_id);
                return;
            }
            self.connect.connector_space.remove(&anchor);
        }
        let (cloud_id, outcome, detail) = match self.join(ad, &anchor) {
            Join::Refused(reason) => {
                tally.record(key, ObjectOutcome::Error, None, reason);
                return;
            }
            Join::Restored(id) => {
                self.restore_by_sync(id, now);
                (
                    id,
                    ObjectOutcome::Matched,
                    "restored the soft-deleted user with the same source anchor".to_owned(),
                )
            }
            Join::HardMatch(id) => (
                id,
                ObjectOutcome::Matched,
                "hard match on sourceAnchor".to_owned(),
            ),
            Join::SoftMatch(id, on) => (id, ObjectOutcome::Matched, format!("soft match on {on}")),
            Join::Create => (
                self.create_user(ad, now),
                ObjectOutcome::Added,
                "created in the cloud".to_owned(),
            ),
        };
        self.apply_ad_values(cloud_id, ad, &anchor, now);
        self.remember(ad, &anchor, cloud_id);
        tally.record(key, outcome, Some(cloud_id), detail);
    }

    /// How a new connector object joins the cloud [S17][S22]: a soft-deleted user with its
    /// anchor is restored; a live one is hard-matched (never a user who holds or is eligible
    /// for a privileged role, since 2026-07-01); else a cloud-managed user with the same primary
    /// SMTP address, or (only where `softMatchOnUpnEnabled`) the same UPN, is soft-matched;
    /// else a new user is created (domain-2026.md 3.3, 3.5).
    fn join(&self, ad: &AdUser, anchor: &str) -> Join {
        let same_anchor = |u: &CloudUser| u.on_premises_immutable_id.as_deref() == Some(anchor);
        if let Some(deleted) = self.deleted_users.values().find(|d| same_anchor(&d.user)) {
            return Join::Restored(deleted.user.id);
        }
        let features = &self.features;
        if let Some(user) = self.users.values().find(|u| same_anchor(u)) {
            return match self.hard_match_refusal(user) {
                Some(reason) => Join::Refused(reason),
                None => Join::HardMatch(user.id),
            };
        }
        let upn = ad.user_principal_name.as_deref().unwrap_or_default();
        let by_upn = self.users.values().find(|u| {
            features.soft_match_on_upn_enabled
                && !upn.is_empty()
                && u.user_principal_name.eq_ignore_ascii_case(upn)
        });
        let by_smtp = ad.primary_smtp().and_then(|smtp| {
            self.users.values().find(|u| {
                addresses::primary_smtp(&self.proxy_addresses(u))
                    .is_some_and(|p| p.eq_ignore_ascii_case(smtp))
            })
        });
        let Some((user, on)) = by_smtp
            .map(|u| (u, "primary SMTP address"))
            .or(by_upn.map(|u| (u, "userPrincipalName")))
        else {
            return Join::Create;
        };
        if user.is_synced() {
            return Join::Refused(format!(
                "{on} {} is already used by another synced object (AttributeValueMustBeUnique)",
                user.user_principal_name
            ));
        }
        if features.block_soft_match_enabled {
            return Join::Refused("soft match blocked: BlockSoftMatchEnabled is set".into());
        }
        if self.is_admin(user.id) {
            return Join::Refused(format!(
                "soft match refused: {} holds an administrator role",
                user.user_principal_name
            ));
        }
        Join::SoftMatch(user.id, on)
    }

    fn create_user(&mut self, ad: &AdUser, now: OffsetDateTime) -> Uuid {
        let id = Uuid::new_v4();
        let moera = self.new_moera(&ad.sam_account_name);
        self.users.insert(
            id,
            CloudUser {
                id,
                user_principal_name: String::new(),
                display_name: String::new(),
                mail_nickname: ad.sam_account_name.clone(),
                mail: None,
                usage_location: None,
                account_enabled: true,
                created_date_time: now,
                on_premises_sync_enabled: Some(true),
                on_premises_immutable_id: None,
                on_premises_distinguished_name: None,
                on_premises_sam_account_name: None,
                on_premises_user_principal_name: None,
                on_premises_last_sync_date_time: None,
                on_premises_proxy_addresses: Vec::new(),
                cloud_addresses: vec![moera],
                direct_licenses: Vec::new(),
                provisioning_errors: Vec::new(),
                cloud_managed: false,
                addresses_before_cloud_managed: None,
            },
        );
        id
    }

    /// On-premises values overwrite the cloud's [S17]; returns whether anything changed.
    fn apply_ad_values(
        &mut self,
        cloud_id: Uuid,
        ad: &AdUser,
        anchor: &str,
        now: OffsetDateTime,
    ) -> bool {
        let Some(user) = self.users.get_mut(&cloud_id) else {
            return false;
        };
        let before = (
            user.user_principal_name.clone(),
            user.display_name.clone(),
            user.mail.clone(),
            user.on_premises_proxy_addresses.clone(),
            user.on_premises_distinguished_name.clone(),
            user.on_premises_sync_enabled,
        );
        let upn = ad
            .user_principal_name
            .clone()
            .unwrap_or_else(|| format!("{}@{}", ad.sam_account_name, self.tenant.initial_domain));
        user.user_principal_name = upn.clone();
        user.display_name = ad
            .display_name
            .clone()
            .unwrap_or_else(|| ad.sam_account_name.clone());
        user.mail = ad.mail.clone();
        user.on_premises_proxy_addresses = ad.proxy_addresses.clone();
        user.on_premises_distinguished_name = Some(ad.distinguished_name.clone());
        user.on_premises_sam_account_name = Some(ad.sam_account_name.clone());
        user.on_premises_user_principal_name = Some(upn);
        user.on_premises_sync_enabled = Some(true);
        user.on_premises_immutable_id = Some(anchor.to_owned());
        let changed = before
            != (
                user.user_principal_name.clone(),
                user.display_name.clone(),
                user.mail.clone(),
                user.on_premises_proxy_addresses.clone(),
                user.on_premises_distinguished_name.clone(),
                user.on_premises_sync_enabled,
            );
        // onPremisesLastSyncDateTime: the last export that wrote the user.
        if changed {
            user.on_premises_last_sync_date_time = Some(now);
        }
        changed
    }

    fn remember(&mut self, ad: &AdUser, anchor: &str, cloud_object_id: Uuid) {
        self.connect.connector_space.insert(
            anchor.to_owned(),
            ConnectorEntry {
                anchor: anchor.to_owned(),
                object_guid: ad.object_guid,
                distinguished_name: ad.distinguished_name.clone(),
                cloud_object_id,
            },
        );
    }

    /// Synced groups take their members from AD: members in sync scope, by connector entry.
    /// Unless sync owns membership outright (the switch), members with no connector entry (a
    /// restored, now cloud-only user) are left alone.
    fn sync_group_members(&mut self, ad: &AdSnapshot) {
        let by_dn: BTreeMap<String, Uuid> = self
            .connect
            .connector_space
            .values()
            .map(|e| (e.distinguished_name.to_ascii_lowercase(), e.cloud_object_id))
            .collect();
        let synced: BTreeSet<Uuid> = by_dn.values().copied().collect();
        let keep_cloud_side = !self.switches.synced_group_membership_drops_on_delete;
        for group in self.groups.values_mut() {
            let Some(dn) = &group.on_premises_distinguished_name else {
                continue;
            };
            let Some(ad_group) = ad
                .groups
                .iter()
                .find(|g| g.distinguished_name.eq_ignore_ascii_case(dn))
            else {
                continue;
            };
            let mut members: BTreeSet<Uuid> = ad_group
                .members
                .iter()
                .filter_map(|member| by_dn.get(&member.to_ascii_lowercase()).copied())
                .collect();
            if keep_cloud_side {
                members.extend(group.members.iter().filter(|id| !synced.contains(id)));
            }
            group.members = members;
        }
    }
}
