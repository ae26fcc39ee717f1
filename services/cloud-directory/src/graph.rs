//! The port cloud-directory's steps stand on: what they need of Microsoft Graph, in Detour's
//! own types, and the errors it can answer with. `graph_client` is the real adapter; the
//! handlers' tests use an in-memory one.

use std::future::Future;

use detour_contracts::cloud_directory::{
    AddressHolder, CloudUserState, DeletedUserState, TenantRead,
};
use detour_entra::CallError;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NoSeats(String),
    #[error("{0}")]
    Forbidden(String),
    /// A precondition of the command no longer holds: a late copy, answered without effect.
    #[error("stale: {0}")]
    Stale(String),
    /// Throttled, failing or unreachable after every retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for GraphError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Token(detour_entra::TokenError::Refused(reason)) => {
                GraphError::Forbidden(reason)
            }
            other => GraphError::Unavailable(other.to_string()),
        }
    }
}

/// What the steps read and change in the tenant.
pub trait Graph: Send + Sync + 'static {
    /// A live user by object id or UPN; `None` when there is none.
    fn user(
        &self,
        id_or_upn: &str,
        with_admin_roles: bool,
    ) -> impl Future<Output = Result<Option<CloudUserState>, GraphError>> + Send;

    /// The user, read right after Detour's own write to it (a restore): a 404 may be
    /// replication lag and is asked again before it counts [S13].
    fn user_after_write(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<CloudUserState>, GraphError>> + Send;

    /// Many users, in the order asked.
    fn users(
        &self,
        ids_or_upns: &[String],
        with_admin_roles: bool,
    ) -> impl Future<Output = Result<Vec<Option<CloudUserState>>, GraphError>> + Send;

    /// Live users whose proxyAddresses hold `address`, primary or not.
    fn address_holders(
        &self,
        address: &str,
    ) -> impl Future<Output = Result<Vec<AddressHolder>, GraphError>> + Send;

    /// A user in deleted items; `None` when it is not there.
    fn deleted_user(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<DeletedUserState>, GraphError>> + Send;

    /// The tenant's sync features and licence seats.
    fn tenant(&self) -> impl Future<Output = Result<TenantRead, GraphError>> + Send;

    /// Restores a deleted user; answers its UPN after the restore.
    fn restore(
        &self,
        id: Uuid,
        auto_reconcile: bool,
        new_upn: Option<&str>,
    ) -> impl Future<Output = Result<String, GraphError>> + Send;

    fn set_usage_location(
        &self,
        id: Uuid,
        location: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;

    /// Whether the cloud is the user's source of authority (`onPremisesSyncBehavior`);
    /// `None` when there is no such user.
    fn user_cloud_managed(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<bool>, GraphError>> + Send;

    fn set_user_cloud_managed(
        &self,
        id: Uuid,
        cloud_managed: bool,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;

    /// The tenant's sync object id and its `blockCloudObjectTakeoverThroughHardMatchEnabled`,
    /// read now (never a shared, older read: a write is decided on it).
    fn takeover_block(&self) -> impl Future<Output = Result<(String, bool), GraphError>> + Send;

    fn set_takeover_block(
        &self,
        sync_object: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;

    /// One direct licence added or removed.
    fn assign_license(
        &self,
        id: Uuid,
        add: Option<Uuid>,
        remove: Option<Uuid>,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
}
