//! Commands in, events out. Reads answer the current state; writes check first and answer
//! "already" on a repeat; permanent failures answer `CloudCommandFailed`, transient ones are
//! retried by the bus.

use std::sync::Arc;

use detour_contracts::{
    Service,
    cloud_directory::{
        AddressHoldersFound, AssignLicense, CloudCommandFailed, CloudFailureKind, CloudUserRead,
        CloudUserState, CloudUsersRead, DeletedUserRead, FindAddressHolders, LicenseAssigned,
        LicenseRemoved, ReadCloudUser, ReadCloudUsers, ReadDeletedUser, ReadTenant, RemoveLicense,
        RestoreUser, TenantRead, UserRestored,
    },
};
use detour_service::{Dispatch, StepFailure};

use crate::graph::{Graph, GraphError};

const MAX_TEXT: usize = 1024;
/// More users than any one batch read needs.
const MAX_USERS: usize = 1000;

pub fn dispatch<G: Graph>(graph: Arc<G>) -> Dispatch {
    Dispatch::new(Service::CloudDirectory)
        .step(&graph, read_user)
        .step(&graph, read_users)
        .step(&graph, read_deleted)
        .step(&graph, read_tenant)
        .step(&graph, find_holders)
        .step(&graph, restore)
        .step(&graph, assign)
        .step(&graph, remove)
        .step(&graph, source_of_authority::set_user_cloud_managed)
        .step(&graph, source_of_authority::set_takeover_block)
}

fn check_text(what: &str, value: &str) -> Result<(), GraphError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(GraphError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT} printable characters"
        )));
    }
    Ok(())
}

async fn read_user<G: Graph>(
    graph: Arc<G>,
    command: ReadCloudUser,
) -> Result<CloudUserRead, GraphError> {
    check_text("user", &command.user)?;
    let user = graph.user(&command.user, command.with_admin_roles).await?;
    Ok(CloudUserRead {
        requested: command.user,
        user,
    })
}

async fn read_users<G: Graph>(
    graph: Arc<G>,
    command: ReadCloudUsers,
) -> Result<CloudUsersRead, GraphError> {
    if command.users.len() > MAX_USERS {
        return Err(GraphError::Invalid(format!(
            "{} users in one read; at most {MAX_USERS}",
            command.users.len()
        )));
    }
    for user in &command.users {
        check_text("user", user)?;
    }
    let found = graph
        .users(&command.users, command.with_admin_roles)
        .await?;
    let users = command
        .users
        .into_iter()
        .zip(found)
        .map(|(requested, user)| CloudUserRead { requested, user })
        .collect();
    Ok(CloudUsersRead { users })
}

async fn read_deleted<G: Graph>(
    graph: Arc<G>,
    command: ReadDeletedUser,
) -> Result<DeletedUserRead, GraphError> {
    let id = command.id;
    let user = graph.deleted_user(id).await?;
    Ok(DeletedUserRead { id, user })
}

async fn read_tenant<G: Graph>(graph: Arc<G>, _: ReadTenant) -> Result<TenantRead, GraphError> {
    graph.tenant().await
}

async fn find_holders<G: Graph>(
    graph: Arc<G>,
    command: FindAddressHolders,
) -> Result<AddressHoldersFound, GraphError> {
    let address = command.address;
    check_text("address", &address)?;
    if !address.contains('@') {
        return Err(GraphError::Invalid(format!(
            "{address:?} is not an address"
        )));
    }
    let holders = graph.address_holders(&address).await?;
    Ok(AddressHoldersFound { address, holders })
}

async fn restore<G: Graph>(
    graph: Arc<G>,
    command: RestoreUser,
) -> Result<UserRestored, GraphError> {
    let RestoreUser {
        id,
        auto_reconcile_proxy_conflict,
        new_user_principal_name,
    } = command;
    if let Some(upn) = &new_user_principal_name {
        check_text("new_user_principal_name", upn)?;
    }
    // Live already: a repeat, or someone else restored it.
    if let Some(user) = graph.user(&id.to_string(), false).await? {
        return Ok(UserRestored {
            id,
            user_principal_name: user.user_principal_name,
            already_active: true,
        });
    }
    let upn = graph
        .restore(
            id,
            auto_reconcile_proxy_conflict,
            new_user_principal_name.as_deref(),
        )
        .await
        .map_err(|error| match error {
            GraphError::NotFound(reason) => GraphError::NotFound(format!(
                "{id} is not in deleted items (gone for good?): {reason}"
            )),
            other => other,
        })?;
    Ok(UserRestored {
        id,
        user_principal_name: upn,
        already_active: false,
    })
}

async fn assign<G: Graph>(
    graph: Arc<G>,
    command: AssignLicense,
) -> Result<LicenseAssigned, GraphError> {
    let AssignLicense {
        user_id,
        sku_id,
        usage_location,
        only_while_cloud_only,
    } = command;
    if let Some(location) = &usage_location
        && (location.len() != 2 || !location.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(GraphError::Invalid(format!(
            "usage_location {location:?} is not an ISO 3166 alpha-2 code"
        )));
    }
    let user = graph
        .user_after_write(user_id)
        .await?
        .ok_or_else(|| GraphError::NotFound(format!("no live user {user_id}")))?;
    if only_while_cloud_only && user.on_premises_sync_enabled == Some(true) {
        return Err(GraphError::Stale(format!(
            "{} is synced from AD again: a temporary licence is only for the cloud-only user",
            user.user_principal_name
        )));
    }
    let already_assigned = has_direct(&user, sku_id);
    if !already_assigned {
        if user.usage_location.is_none() {
            let Some(location) = &usage_location else {
                return Err(GraphError::Invalid(format!(
                    "{} has no usageLocation and the command gives none",
                    user.user_principal_name
                )));
            };
            graph.set_usage_location(user_id, location).await?;
        }
        graph.assign_license(user_id, Some(sku_id), None).await?;
    }
    Ok(LicenseAssigned {
        user_id,
        sku_id,
        already_assigned,
    })
}

async fn remove<G: Graph>(
    graph: Arc<G>,
    command: RemoveLicense,
) -> Result<LicenseRemoved, GraphError> {
    let RemoveLicense { user_id, sku_id } = command;
    let user = graph
        .user_after_write(user_id)
        .await?
        .ok_or_else(|| GraphError::NotFound(format!("no live user {user_id}")))?;
    // Only a direct assignment is ours to remove; a group's stays [S48].
    let already_absent = !has_direct(&user, sku_id);
    if !already_absent {
        graph.assign_license(user_id, None, Some(sku_id)).await?;
    }
    Ok(LicenseRemoved {
        user_id,
        sku_id,
        already_absent,
    })
}

/// Whether `user` holds `sku_id` assigned directly (not through a group).
fn has_direct(user: &CloudUserState, sku_id: uuid::Uuid) -> bool {
    user.licenses
        .iter()
        .any(|l| l.sku_id == sku_id && l.assigned_by_group.is_none())
}

impl StepFailure for GraphError {
    type Event = CloudCommandFailed;

    fn failure_event(&self, command: &'static str) -> Option<CloudCommandFailed> {
        let kind = match self {
            GraphError::Unavailable(_) => return None,
            GraphError::NotFound(_) => CloudFailureKind::NotFound,
            GraphError::Conflict(_) => CloudFailureKind::Conflict,
            GraphError::Invalid(_) => CloudFailureKind::Invalid,
            GraphError::NoSeats(_) => CloudFailureKind::NoSeats,
            GraphError::Forbidden(_) => CloudFailureKind::Forbidden,
            GraphError::Stale(_) => CloudFailureKind::Stale,
        };
        Some(CloudCommandFailed {
            command: command.to_owned(),
            kind,
            reason: self.to_string(),
        })
    }
}

mod source_of_authority;
#[cfg(test)]
mod tests;
