//! Commands in, events out. A mailbox read answers the current state; adding an address or
//! setting the cloud-managed flag checks first and answers "already" on a repeat; Exchange's
//! refusals answer `MailboxCommandFailed` with its own words.

use std::sync::Arc;

use detour_contracts::{
    Service,
    mailbox_ops::{
        AcceptedDomainsRead, AddEmailAddress, EmailAddressAdded, ExchangeCloudManagedSet,
        MailboxCommandFailed, MailboxFailureKind, MailboxRead, MailboxState, ReadAcceptedDomains,
        ReadMailbox, SetExchangeCloudManaged,
    },
};
use detour_service::{Dispatch, StepFailure};

use crate::exchange::{Exchange, ExchangeError};

pub fn dispatch<X: Exchange>(exchange: Arc<X>) -> Dispatch {
    Dispatch::new(Service::MailboxOps)
        .step(&exchange, read_mailbox)
        .step(&exchange, add_address)
        .step(&exchange, set_cloud_managed)
        .step(&exchange, read_accepted_domains)
}

async fn read_accepted_domains<X: Exchange>(
    exchange: Arc<X>,
    _: ReadAcceptedDomains,
) -> Result<AcceptedDomainsRead, ExchangeError> {
    let domains = exchange.accepted_domains().await?;
    Ok(AcceptedDomainsRead { domains })
}

fn check_identity(identity: &str) -> Result<(), ExchangeError> {
    if identity.trim().is_empty() || identity.len() > 1024 || identity.chars().any(char::is_control)
    {
        return Err(ExchangeError::Invalid(
            "identity must be 1 to 1024 printable characters".into(),
        ));
    }
    Ok(())
}

async fn read_mailbox<X: Exchange>(
    exchange: Arc<X>,
    command: ReadMailbox,
) -> Result<MailboxRead, ExchangeError> {
    check_identity(&command.identity)?;
    let mailbox = exchange.mailbox(&command.identity).await?;
    Ok(MailboxRead {
        identity: command.identity,
        mailbox,
    })
}

/// The active mailbox a write needs.
async fn active<X: Exchange>(exchange: &X, identity: &str) -> Result<MailboxState, ExchangeError> {
    check_identity(identity)?;
    exchange
        .mailbox(identity)
        .await?
        .ok_or_else(|| ExchangeError::NotFound(format!("{identity} has no active mailbox")))
}

async fn add_address<X: Exchange>(
    exchange: Arc<X>,
    command: AddEmailAddress,
) -> Result<EmailAddressAdded, ExchangeError> {
    let AddEmailAddress { identity, address } = command;
    if !address.is_smtp() {
        return Err(ExchangeError::Invalid(format!(
            "{address} is not an SMTP address"
        )));
    }
    let mailbox = active(exchange.as_ref(), &identity).await?;
    let present = mailbox.email_addresses.iter().any(|a| address.same_as(a));
    if !present {
        exchange.add_address(&identity, &address).await?;
    }
    Ok(EmailAddressAdded {
        identity,
        address,
        already_present: present,
    })
}

async fn set_cloud_managed<X: Exchange>(
    exchange: Arc<X>,
    command: SetExchangeCloudManaged,
) -> Result<ExchangeCloudManagedSet, ExchangeError> {
    let SetExchangeCloudManaged { identity, value } = command;
    let mailbox = active(exchange.as_ref(), &identity).await?;
    let already = mailbox.is_exchange_cloud_managed == value;
    if !already {
        exchange.set_cloud_managed(&identity, value).await?;
    }
    Ok(ExchangeCloudManagedSet {
        identity,
        value,
        already,
    })
}

impl StepFailure for ExchangeError {
    type Event = MailboxCommandFailed;

    fn failure_event(&self, command: &'static str) -> Option<MailboxCommandFailed> {
        let kind = match self {
            ExchangeError::Unavailable(_) => return None,
            ExchangeError::NotFound(_) => MailboxFailureKind::NotFound,
            ExchangeError::OutOfWriteScope(_) => MailboxFailureKind::OutOfWriteScope,
            ExchangeError::ObjectConflict(_) => MailboxFailureKind::ObjectConflict,
            ExchangeError::Invalid(_) => MailboxFailureKind::Invalid,
            ExchangeError::Forbidden(_) => MailboxFailureKind::Forbidden,
            ExchangeError::Unsupported(_) => MailboxFailureKind::Unsupported,
        };
        Some(MailboxCommandFailed {
            command: command.to_owned(),
            kind,
            reason: self.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
