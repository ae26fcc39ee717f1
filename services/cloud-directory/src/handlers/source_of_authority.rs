//! Object-level source of authority (domain-2026.md 3.4): a user handed to the cloud or back
//! to AD, and the tenant's takeover block the documented rollback lifts and restores. Each
//! write reads first, so a repeat answers "already" and writes nothing.

use std::sync::Arc;

use detour_contracts::cloud_directory::{
    SetTakeoverBlock, SetUserCloudManaged, TakeoverBlockSet, UserCloudManagedSet,
};

use crate::graph::{Graph, GraphError};

pub(super) async fn set_user_cloud_managed<G: Graph>(
    graph: Arc<G>,
    command: SetUserCloudManaged,
) -> Result<UserCloudManagedSet, GraphError> {
    let SetUserCloudManaged {
        user_id,
        cloud_managed,
        only_if_last_sync,
    } = command;
    let current = graph
        .user_cloud_managed(user_id)
        .await?
        .ok_or_else(|| GraphError::NotFound(format!("no live user {user_id}")))?;
    if current == cloud_managed {
        return Ok(UserCloudManagedSet {
            user_id,
            cloud_managed,
            already: true,
        });
    }
    if cloud_managed {
        let user = graph
            .user(&user_id.to_string(), false)
            .await?
            .ok_or_else(|| GraphError::NotFound(format!("no live user {user_id}")))?;
        if user.on_premises_sync_enabled != Some(true) {
            return Err(GraphError::Stale(format!(
                "{} is not synced from AD now: there is nothing to hand to the cloud",
                user.user_principal_name
            )));
        }
        if let Some(fence) = only_if_last_sync
            && user.on_premises_last_sync != Some(fence)
        {
            return Err(GraphError::Stale(format!(
                "{} was exported again since the plan was made: a late copy is not carried out",
                user.user_principal_name
            )));
        }
    }
    graph.set_user_cloud_managed(user_id, cloud_managed).await?;
    Ok(UserCloudManagedSet {
        user_id,
        cloud_managed,
        already: false,
    })
}

pub(super) async fn set_takeover_block<G: Graph>(
    graph: Arc<G>,
    command: SetTakeoverBlock,
) -> Result<TakeoverBlockSet, GraphError> {
    let (object, previous) = graph.takeover_block().await?;
    let enabled = command.enabled.unwrap_or(previous);
    if enabled != previous {
        graph.set_takeover_block(&object, enabled).await?;
    }
    Ok(TakeoverBlockSet { enabled, previous })
}
