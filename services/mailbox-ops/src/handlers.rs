//! Commands in, events out. A mailbox read answers the current state; adding an address or
//! setting the cloud-managed flag checks first and answers "already" on a repeat; Exchange's
//! refusals answer `MailboxCommandFailed` with its own words.

use std::sync::Arc;

use detour_bus::Outcome;
use detour_contracts::{
    Envelope, Service,
    mailbox_ops::{
        AddEmailAddress, EmailAddressAdded, ExchangeCloudManagedSet, MailboxCommandFailed,
        MailboxFailureKind, MailboxRead, ReadMailbox, SetExchangeCloudManaged,
    },
};
use detour_service::{Dispatch, HandlerContext, StepFailure};

use crate::exchange_client::{ExchangeClient, ExchangeError};

/// An SMTP address is at most 320 characters (RFC 5321's 64 + 1 + 255).
const MAX_ADDRESS: usize = 320;

pub fn dispatch(exchange: Arc<ExchangeClient>) -> Dispatch {
    let (read, add, flag) = (exchange.clone(), exchange.clone(), exchange);
    Dispatch::new(Service::MailboxOps)
        .on::<ReadMailbox, _, _>(move |command, context| {
            let exchange = read.clone();
            async move { read_mailbox(&exchange, command, context).await }
        })
        .on::<AddEmailAddress, _, _>(move |command, context| {
            let exchange = add.clone();
            async move { add_address(&exchange, command, context).await }
        })
        .on::<SetExchangeCloudManaged, _, _>(move |command, context| {
            let exchange = flag.clone();
            async move { set_cloud_managed(&exchange, command, context).await }
        })
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

/// `smtp:local@domain`, `SMTP:...` or a bare address (Exchange assumes smtp [S28]).
fn bare_address(address: &str) -> Result<&str, ExchangeError> {
    let bare = address
        .strip_prefix("smtp:")
        .or_else(|| address.strip_prefix("SMTP:"))
        .unwrap_or(address);
    let valid = bare.len() <= MAX_ADDRESS
        && !bare.chars().any(|c| c.is_control() || c.is_whitespace())
        && matches!(bare.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if valid {
        Ok(bare)
    } else {
        Err(ExchangeError::Invalid(format!(
            "{address:?} is not an SMTP address"
        )))
    }
}

async fn read_mailbox(
    exchange: &ExchangeClient,
    command: Envelope<ReadMailbox>,
    context: HandlerContext,
) -> Outcome {
    let identity = command.payload.identity.clone();
    let result = async {
        check_identity(&identity)?;
        exchange.mailbox(&identity).await
    };
    match result.await {
        Ok(mailbox) => {
            context
                .reply(&command, MailboxRead { identity, mailbox })
                .await
        }
        Err(error) => context.fail(&command, error).await,
    }
}

async fn add_address(
    exchange: &ExchangeClient,
    command: Envelope<AddEmailAddress>,
    context: HandlerContext,
) -> Outcome {
    let AddEmailAddress { identity, address } = command.payload.clone();
    let result = async {
        check_identity(&identity)?;
        let bare = bare_address(&address)?;
        let mailbox = exchange
            .mailbox(&identity)
            .await?
            .ok_or_else(|| ExchangeError::NotFound(format!("{identity} has no active mailbox")))?;
        let present = mailbox
            .email_addresses
            .iter()
            .any(|a| detour_contracts::address::same_address(a, bare));
        if !present {
            exchange.add_address(&identity, &address).await?;
        }
        Ok::<_, ExchangeError>(EmailAddressAdded {
            identity: identity.clone(),
            address: address.clone(),
            already_present: present,
        })
    };
    match result.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error) => context.fail(&command, error).await,
    }
}

async fn set_cloud_managed(
    exchange: &ExchangeClient,
    command: Envelope<SetExchangeCloudManaged>,
    context: HandlerContext,
) -> Outcome {
    let SetExchangeCloudManaged { identity, value } = command.payload.clone();
    let result = async {
        check_identity(&identity)?;
        let mailbox = exchange
            .mailbox(&identity)
            .await?
            .ok_or_else(|| ExchangeError::NotFound(format!("{identity} has no active mailbox")))?;
        let already = mailbox.is_exchange_cloud_managed == value;
        if !already {
            exchange.set_cloud_managed(&identity, value).await?;
        }
        Ok::<_, ExchangeError>(ExchangeCloudManagedSet {
            identity: identity.clone(),
            value,
            already,
        })
    };
    match result.await {
        Ok(event) => context.reply(&command, event).await,
        Err(error) => context.fail(&command, error).await,
    }
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
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_before_exchange_sees_them() {
        assert_eq!(
            bare_address("smtp:ada@contoso.mail.onmicrosoft.com").unwrap(),
            "ada@contoso.mail.onmicrosoft.com"
        );
        assert!(bare_address("ada@contoso.com").is_ok());
        for bad in [
            "",
            "smtp:",
            "no-at",
            "a@b",
            "a b@c.com",
            "a@b@c.com",
            "x:\u{0}@c.com",
        ] {
            assert!(bare_address(bad).is_err(), "{bad:?}");
        }
        assert!(bare_address(&format!("{}@contoso.com", "a".repeat(400))).is_err());
    }
}
