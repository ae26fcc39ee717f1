//! The port mailbox-ops's steps stand on: what they need of Exchange Online, and the errors it
//! answers with. `exchange_client` is the real adapter; the handlers' tests use an in-memory
//! one.

use std::future::Future;

use detour_contracts::{ProxyAddress, mailbox_ops::MailboxState};
use detour_entra::CallError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    OutOfWriteScope(String),
    #[error("{0}")]
    ObjectConflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Unavailable(String),
}

impl From<CallError> for ExchangeError {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Token(detour_entra::TokenError::Refused(reason)) => {
                ExchangeError::Forbidden(reason)
            }
            other => ExchangeError::Unavailable(other.to_string()),
        }
    }
}

/// What the steps read and change in Exchange Online.
pub trait Exchange: Send + Sync + 'static {
    /// The active mailbox, or `None` when there is none (now).
    fn mailbox(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<Option<MailboxState>, ExchangeError>> + Send;

    /// Adds `address` to the mailbox's addresses, leaving the others as they are.
    fn add_address(
        &self,
        identity: &str,
        address: &ProxyAddress,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;

    /// The domains Exchange Online accepts mail for (`Get-AcceptedDomain`).
    fn accepted_domains(&self) -> impl Future<Output = Result<Vec<String>, ExchangeError>> + Send;

    /// Sets `IsExchangeCloudManaged` [S36].
    fn set_cloud_managed(
        &self,
        identity: &str,
        value: bool,
    ) -> impl Future<Output = Result<(), ExchangeError>> + Send;
}
