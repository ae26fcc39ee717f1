//! Commands in, events out. Reads answer the current state; writes check first and answer
//! "already" on a repeat; permanent failures answer `CloudCommandFailed`, transient ones are
//! retried by the bus.

use std::sync::Arc;

use detour_bus::Outcome;
use detour_contracts::{
    Envelope, Service,
    cloud_directory::{
        AddressHoldersFound, AssignLicense, CloudCommandFailed, CloudFailureKind, CloudUserRead,
        CloudUsersRead, DeletedUserRead, FindAddressHolders, LicenseAssigned, LicenseRemoved,
        ReadCloudUser, ReadCloudUsers, ReadDeletedUser, ReadTenant, RemoveLicense, RestoreUser,
        UserRestored,
    },
};
use detour_service::{Dispatch, HandlerContext, StepFailure};

use crate::graph_client::{GraphClient, GraphError};

const MAX_TEXT: usize = 1024;
/// More users than any one batch read needs.
const MAX_USERS: usize = 1000;

macro_rules! on {
    ($dispatch:expr, $graph:expr, $command:ty, $handler:path) => {{
        let graph = $graph.clone();
        $dispatch.on::<$command, _, _>(move |command, context| {
            let graph = graph.clone();
            async move { $handler(&graph, command, context).await }
        })
    }};
}

pub fn dispatch(graph: Arc<GraphClient>) -> Dispatch {
    let dispatch = Dispatch::new(Service::CloudDirectory);
    let dispatch = on!(dispatch, graph, ReadCloudUser, read_user);
    let dispatch = on!(dispatch, graph, ReadCloudUsers, read_users);
    let dispatch = on!(dispatch, graph, ReadDeletedUser, read_deleted);
    let dispatch = on!(dispatch, graph, ReadTenant, read_tenant);
    let dispatch = on!(dispatch, graph, FindAddressHolders, find_holders);
    let dispatch = on!(dispatch, graph, RestoreUser, restore);
    let dispatch = on!(dispatch, graph, AssignLicense, assign);
    on!(dispatch, graph, RemoveLicense, remove)
}

fn check_text(what: &str, value: &str) -> Result<(), GraphError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(GraphError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT} printable characters"
        )));
    }
    Ok(())
}

async fn read_user(
    graph: &GraphClient,
    command: Envelope<ReadCloudUser>,
    context: HandlerContext,
) -> Outcome {
    let requested = command.payload.user.clone();
    let result = async {
        check_text("user", &requested)?;
        graph
            .user(&requested, command.payload.with_admin_roles)
            .await
    };
    match result.await {
        Ok(user) => {
            context
                .reply(&command, CloudUserRead { requested, user })
                .await
        }
        Err(error) => context.fail(&command, error).await,
    }
}

async fn read_users(
    graph: &GraphClient,
    command: Envelope<ReadCloudUsers>,
    context: HandlerContext,
) -> Outcome {
    let requested = command.payload.users.clone();
    let result = async {
        if requested.len() > MAX_USERS {
            return Err(GraphError::Invalid(format!(
                "{} users in one read; at most {MAX_USERS}",
                requested.len()
            )));
        }
        for user in &requested {
            check_text("user", user)?;
        }
        graph
            .users(&requested, command.payload.with_admin_roles)
            .await
    };
    match result.await {
        Ok(found) => {
            let users = requested
                .into_iter()
                .zip(found)
                .map(|(requested, user)| CloudUserRead { requested, user })
                .collect();
            context.reply(&command, CloudUsersRead { users }).await
        }
        Err(error) => context.fail(&command, error).await,
    }
}

async fn read_deleted(
    graph: &GraphClient,
    command: Envelope<ReadDeletedUser>,
    context: HandlerContext,
) -> Outcome {
    let id = command.payload.id;
    match graph.deleted_user(id).await {
        Ok(user) => context.reply(&command, DeletedUserRead { id, user }).await,
        Err(error) => context.fail(&command, error).await,
    }
}

async fn read_tenant(
    graph: &GraphClient,
    command: Envelope<ReadTenant>,
    context: HandlerContext,
) -> Outcome {
    match graph.tenant().await {
        Ok(tenant) => context.reply(&command, tenant).await,
        Err(error) => context.fail(&command, error).await,
    }
}

async fn find_holders(
    graph: &GraphClient,
    command: Envelope<FindAddressHolders>,
    context: HandlerContext,
) -> Outcome {
    let address = command.payload.address.clone();
    let result = async {
        check_text("address", &address)?;
        if !address.contains('@') {
            return Err(GraphError::Invalid(format!(
                "{address:?} is not an address"
            )));
        }
        graph.address_holders(&address).await
    };
    match result.await {
        Ok(holders) => {
            context
                .reply(&command, AddressHoldersFound { address, holders })
                .await
        }
        Err(error) => context.fail(&command, error).await,
    }
}

async fn restore(
    graph: &GraphClient,
    command: Envelope<RestoreUser>,
    context: HandlerContext,
) -> Outcome {
    let RestoreUser {
        id,
        auto_reconcile_proxy_conflict,
        new_user_principal_name,
    } = command.payload.clone();
    let result = async {
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
    };
    match result.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error) => context.fail::<_, GraphError>(&command, error).await,
    }
}

async fn assign(
    graph: &GraphClient,
    command: Envelope<AssignLicense>,
    context: HandlerContext,
) -> Outcome {
    let AssignLicense {
        user_id,
        sku_id,
        usage_location,
        only_while_cloud_only,
    } = command.payload.clone();
    let result = async {
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
        if user
            .licenses
            .iter()
            .any(|l| l.sku_id == sku_id && l.assigned_by_group.is_none())
        {
            return Ok(LicenseAssigned {
                user_id,
                sku_id,
                already_assigned: true,
            });
        }
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
        Ok(LicenseAssigned {
            user_id,
            sku_id,
            already_assigned: false,
        })
    };
    match result.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error) => context.fail(&command, error).await,
    }
}

async fn remove(
    graph: &GraphClient,
    command: Envelope<RemoveLicense>,
    context: HandlerContext,
) -> Outcome {
    let RemoveLicense { user_id, sku_id } = command.payload.clone();
    let result = async {
        let user = graph
            .user_after_write(user_id)
            .await?
            .ok_or_else(|| GraphError::NotFound(format!("no live user {user_id}")))?;
        // Only a direct assignment is ours to remove; a group's stays [S48].
        if !user
            .licenses
            .iter()
            .any(|l| l.sku_id == sku_id && l.assigned_by_group.is_none())
        {
            return Ok(LicenseRemoved {
                user_id,
                sku_id,
                already_absent: true,
            });
        }
        graph.assign_license(user_id, None, Some(sku_id)).await?;
        Ok(LicenseRemoved {
            user_id,
            sku_id,
            already_absent: false,
        })
    };
    match result.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error) => context.fail::<_, GraphError>(&command, error).await,
    }
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
