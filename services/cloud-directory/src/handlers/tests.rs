//! The steps' logic against an in-memory tenant: what each writes, what a repeat answers, and
//! what is refused before Graph is called. The real client's own tests run against tenant-sim.

use std::{collections::HashMap, sync::Mutex};

use detour_contracts::cloud_directory::{
    AddressHolder, DeletedUserState, LicenseAssignment, SkuSeats,
};
use uuid::Uuid;

use super::*;

const SKU: Uuid = Uuid::from_u128(0xE3);
const GROUP: Uuid = Uuid::from_u128(0x6);

/// A tenant in memory: live and deleted users, and every write made, in order.
#[derive(Default)]
struct FakeGraph {
    live: Mutex<HashMap<Uuid, CloudUserState>>,
    deleted: Mutex<HashMap<Uuid, CloudUserState>>,
    writes: Mutex<Vec<String>>,
    /// Answered by every call while set.
    outage: Mutex<Option<GraphError>>,
    /// Users whose source of authority is the cloud.
    cloud_managed: Mutex<std::collections::HashSet<Uuid>>,
    takeover_block: Mutex<bool>,
}

impl FakeGraph {
    fn with_user(user: CloudUserState) -> Arc<Self> {
        let fake = Self::default();
        fake.live.lock().unwrap().insert(user.id, user);
        Arc::new(fake)
    }

    fn with_deleted(user: CloudUserState) -> Arc<Self> {
        let fake = Self::default();
        fake.deleted.lock().unwrap().insert(user.id, user);
        Arc::new(fake)
    }

    fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }

    fn live_user(&self, id: Uuid) -> CloudUserState {
        self.live.lock().unwrap()[&id].clone()
    }

    fn up(&self) -> Result<(), GraphError> {
        self.outage.lock().unwrap().clone().map_or(Ok(()), Err)
    }

    fn write(&self, what: String) {
        self.writes.lock().unwrap().push(what);
    }
}

impl Graph for FakeGraph {
    async fn user(
        &self,
        id_or_upn: &str,
        _with_admin_roles: bool,
    ) -> Result<Option<CloudUserState>, GraphError> {
        self.up()?;
        Ok(self
            .live
            .lock()
            .unwrap()
            .values()
            .find(|u| u.id.to_string() == id_or_upn || u.user_principal_name == id_or_upn)
            .cloned())
    }

    async fn user_after_write(&self, id: Uuid) -> Result<Option<CloudUserState>, GraphError> {
        self.user(&id.to_string(), false).await
    }

    async fn users(
        &self,
        ids_or_upns: &[String],
        with_admin_roles: bool,
    ) -> Result<Vec<Option<CloudUserState>>, GraphError> {
        let mut found = Vec::new();
        for user in ids_or_upns {
            found.push(self.user(user, with_admin_roles).await?);
        }
        Ok(found)
    }

    async fn address_holders(&self, address: &str) -> Result<Vec<AddressHolder>, GraphError> {
        self.up()?;
        Ok(self
            .live
            .lock()
            .unwrap()
            .values()
            .filter(|u| {
                u.proxy_addresses
                    .iter()
                    .any(|a| detour_contracts::address::same_address(a, address))
            })
            .map(|u| AddressHolder {
                id: u.id,
                user_principal_name: u.user_principal_name.clone(),
                soft_deleted: false,
            })
            .collect())
    }

    async fn deleted_user(&self, id: Uuid) -> Result<Option<DeletedUserState>, GraphError> {
        self.up()?;
        Ok(self
            .deleted
            .lock()
            .unwrap()
            .get(&id)
            .map(|u| DeletedUserState {
                id,
                user_principal_name: u.user_principal_name.clone(),
                deleted_date_time: "2026-12-01T10:00:00Z".into(),
            }))
    }

    async fn tenant(&self) -> Result<TenantRead, GraphError> {
        self.up()?;
        Ok(TenantRead {
            block_soft_match_enabled: false,
            soft_match_on_upn_enabled: false,
            block_cloud_object_takeover_through_hard_match_enabled: false,
            skus: vec![SkuSeats {
                sku_id: SKU,
                sku_part_number: "ENTERPRISEPACK".into(),
                prepaid_units: 25,
                consumed_units: 3,
            }],
        })
    }

    async fn restore(
        &self,
        id: Uuid,
        _auto_reconcile: bool,
        _new_upn: Option<&str>,
    ) -> Result<String, GraphError> {
        self.up()?;
        let user = self
            .deleted
            .lock()
            .unwrap()
            .remove(&id)
            .ok_or_else(|| GraphError::NotFound("Request_ResourceNotFound".into()))?;
        self.write(format!("restore {id}"));
        let upn = user.user_principal_name.clone();
        self.live.lock().unwrap().insert(id, user);
        Ok(upn)
    }

    async fn set_usage_location(&self, id: Uuid, location: &str) -> Result<(), GraphError> {
        self.up()?;
        self.write(format!("usageLocation {location}"));
        if let Some(user) = self.live.lock().unwrap().get_mut(&id) {
            user.usage_location = Some(location.to_owned());
        }
        Ok(())
    }

    async fn user_cloud_managed(&self, id: Uuid) -> Result<Option<bool>, GraphError> {
        self.up()?;
        let live = self.live.lock().unwrap().contains_key(&id);
        Ok(live.then(|| self.cloud_managed.lock().unwrap().contains(&id)))
    }

    async fn set_user_cloud_managed(
        &self,
        id: Uuid,
        cloud_managed: bool,
    ) -> Result<(), GraphError> {
        self.up()?;
        self.write(format!("isCloudManaged {cloud_managed}"));
        let mut set = self.cloud_managed.lock().unwrap();
        if cloud_managed {
            set.insert(id);
            if let Some(user) = self.live.lock().unwrap().get_mut(&id) {
                user.on_premises_sync_enabled = None;
            }
        } else {
            set.remove(&id);
        }
        Ok(())
    }

    async fn takeover_block(&self) -> Result<(String, bool), GraphError> {
        self.up()?;
        Ok(("sync-object".into(), *self.takeover_block.lock().unwrap()))
    }

    async fn set_takeover_block(&self, sync_object: &str, enabled: bool) -> Result<(), GraphError> {
        self.up()?;
        self.write(format!("{sync_object} takeover block {enabled}"));
        *self.takeover_block.lock().unwrap() = enabled;
        Ok(())
    }

    async fn assign_license(
        &self,
        id: Uuid,
        add: Option<Uuid>,
        remove: Option<Uuid>,
    ) -> Result<(), GraphError> {
        self.up()?;
        let mut live = self.live.lock().unwrap();
        let user = live
            .get_mut(&id)
            .ok_or_else(|| GraphError::NotFound(format!("{id}")))?;
        if let Some(sku_id) = add {
            if user.usage_location.is_none() {
                return Err(GraphError::Invalid("no usage location".into()));
            }
            user.licenses.push(LicenseAssignment {
                sku_id,
                assigned_by_group: None,
                state: "Active".into(),
            });
            self.write(format!("add {sku_id}"));
        }
        if let Some(sku_id) = remove {
            user.licenses
                .retain(|l| !(l.sku_id == sku_id && l.assigned_by_group.is_none()));
            self.write(format!("remove {sku_id}"));
        }
        Ok(())
    }
}

fn ada(synced: Option<bool>, usage_location: Option<&str>) -> CloudUserState {
    CloudUserState {
        id: Uuid::from_u128(1),
        user_principal_name: "ada@contoso.com".into(),
        mail_nickname: Some("ada".into()),
        on_premises_sync_enabled: synced,
        on_premises_immutable_id: None,
        on_premises_distinguished_name: None,
        proxy_addresses: vec!["SMTP:ada@contoso.com".into()],
        usage_location: usage_location.map(str::to_owned),
        licenses: Vec::new(),
        admin_roles: None,
        provisioning_errors: Vec::new(),
        on_premises_last_sync: None,
    }
}

fn assign_to(user: &CloudUserState, usage_location: Option<&str>) -> AssignLicense {
    AssignLicense {
        user_id: user.id,
        sku_id: SKU,
        usage_location: usage_location.map(str::to_owned),
        only_while_cloud_only: true,
    }
}

#[tokio::test]
async fn a_licence_is_given_once_and_a_repeat_answers_already() {
    let user = ada(None, Some("PL"));
    let graph = FakeGraph::with_user(user.clone());
    let first = assign(graph.clone(), assign_to(&user, None)).await.unwrap();
    assert!(!first.already_assigned);
    let again = assign(graph.clone(), assign_to(&user, None)).await.unwrap();
    assert!(again.already_assigned);
    assert_eq!(
        graph.writes(),
        [format!("add {SKU}")],
        "one write for two commands"
    );
}

#[tokio::test]
async fn a_user_without_a_usage_location_gets_the_commands_one_or_is_refused() {
    let user = ada(None, None);
    let graph = FakeGraph::with_user(user.clone());
    let refused = assign(graph.clone(), assign_to(&user, None)).await;
    assert!(matches!(refused, Err(GraphError::Invalid(ref r)) if r.contains("usageLocation")));
    assert!(graph.writes().is_empty(), "nothing written when refused");

    assign(graph.clone(), assign_to(&user, Some("PL")))
        .await
        .unwrap();
    assert_eq!(
        graph.writes(),
        ["usageLocation PL".to_owned(), format!("add {SKU}")]
    );
    for bad in ["pl", "POL", "P1", ""] {
        let invalid = assign(graph.clone(), assign_to(&user, Some(bad))).await;
        assert!(matches!(invalid, Err(GraphError::Invalid(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn a_temporary_licence_is_refused_once_the_user_is_synced_again() {
    let user = ada(Some(true), Some("PL"));
    let graph = FakeGraph::with_user(user.clone());
    let late = assign(graph.clone(), assign_to(&user, None)).await;
    assert!(matches!(late, Err(GraphError::Stale(_))), "{late:?}");
    assert!(graph.writes().is_empty());
    assert!(
        late.unwrap_err()
            .failure_event("assign-license")
            .is_some_and(|f| f.kind == CloudFailureKind::Stale)
    );
}

#[tokio::test]
async fn only_a_direct_licence_is_removed_and_a_groups_stays() {
    let mut user = ada(Some(true), Some("PL"));
    user.licenses.push(LicenseAssignment {
        sku_id: SKU,
        assigned_by_group: Some(GROUP),
        state: "Active".into(),
    });
    let graph = FakeGraph::with_user(user.clone());
    let removal = RemoveLicense {
        user_id: user.id,
        sku_id: SKU,
    };
    let answer = remove(graph.clone(), removal.clone()).await.unwrap();
    assert!(answer.already_absent, "the group's licence is not ours");
    assert!(graph.writes().is_empty());

    graph
        .live
        .lock()
        .unwrap()
        .get_mut(&user.id)
        .unwrap()
        .licenses
        .push(LicenseAssignment {
            sku_id: SKU,
            assigned_by_group: None,
            state: "Active".into(),
        });
    let answer = remove(graph.clone(), removal).await.unwrap();
    assert!(!answer.already_absent);
    let left = graph.live_user(user.id).licenses;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].assigned_by_group, Some(GROUP), "the group's stays");
}

#[tokio::test]
async fn a_restore_repeated_answers_already_active_and_a_purged_user_is_not_found() {
    let user = ada(None, None);
    let graph = FakeGraph::with_deleted(user.clone());
    let command = RestoreUser {
        id: user.id,
        auto_reconcile_proxy_conflict: true,
        new_user_principal_name: None,
    };
    let first = restore(graph.clone(), command.clone()).await.unwrap();
    assert!(!first.already_active);
    let again = restore(graph.clone(), command).await.unwrap();
    assert!(again.already_active);
    assert_eq!(graph.writes().len(), 1);

    let purged = restore(
        Arc::new(FakeGraph::default()),
        RestoreUser {
            id: Uuid::from_u128(9),
            auto_reconcile_proxy_conflict: true,
            new_user_principal_name: None,
        },
    )
    .await;
    assert!(
        matches!(purged, Err(GraphError::NotFound(ref r)) if r.contains("gone for good")),
        "{purged:?}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_graph_is_called() {
    let graph = Arc::new(FakeGraph::default());
    *graph.outage.lock().unwrap() = Some(GraphError::Unavailable("would have called".into()));
    let upn = |user: &str| ReadCloudUser {
        user: user.into(),
        with_admin_roles: false,
    };
    for bad in ["", "  ", "ada\n@contoso.com"] {
        let answer = read_user(graph.clone(), upn(bad)).await;
        assert!(matches!(answer, Err(GraphError::Invalid(_))), "{bad:?}");
    }
    let too_many = ReadCloudUsers {
        users: vec!["ada@contoso.com".into(); MAX_USERS + 1],
        with_admin_roles: false,
    };
    assert!(matches!(
        read_users(graph.clone(), too_many).await,
        Err(GraphError::Invalid(_))
    ));
    let not_an_address = FindAddressHolders {
        address: "ada".into(),
    };
    assert!(matches!(
        find_holders(graph.clone(), not_an_address).await,
        Err(GraphError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_batch_read_answers_in_the_order_asked_with_none_for_the_missing() {
    let user = ada(Some(true), None);
    let graph = FakeGraph::with_user(user.clone());
    let read = read_users(
        graph,
        ReadCloudUsers {
            users: vec!["nobody@contoso.com".into(), "ada@contoso.com".into()],
            with_admin_roles: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(read.users[0].requested, "nobody@contoso.com");
    assert_eq!(read.users[0].user, None);
    assert_eq!(read.users[1].user.as_ref().map(|u| u.id), Some(user.id));
}

#[test]
fn an_outage_is_retried_and_everything_else_is_answered_as_a_failure() {
    assert!(
        GraphError::Unavailable("503".into())
            .failure_event("read-cloud-user")
            .is_none()
    );
    for (error, kind) in [
        (GraphError::NotFound("x".into()), CloudFailureKind::NotFound),
        (GraphError::Conflict("x".into()), CloudFailureKind::Conflict),
        (GraphError::Invalid("x".into()), CloudFailureKind::Invalid),
        (GraphError::NoSeats("x".into()), CloudFailureKind::NoSeats),
        (
            GraphError::Forbidden("x".into()),
            CloudFailureKind::Forbidden,
        ),
        (GraphError::Stale("x".into()), CloudFailureKind::Stale),
    ] {
        let event = error.failure_event("assign-license").unwrap();
        assert_eq!(event.kind, kind);
        assert_eq!(event.command, "assign-license");
    }
}

mod source_of_authority;
