//! mailbox-ops's commands and events (Exchange Online): read a mailbox, add an address to it,
//! move its Exchange attributes' source of authority to the cloud [S36]. Reads answer the
//! current state; writes check first and answer "already" on a repeat.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageKind, RoutingKey, Service};

macro_rules! mailbox_message {
    ($type:ty, $name:literal, $kind:ident) => {
        impl Message for $type {
            const NAME: &'static str = $name;
            const VERSION: u32 = 1;
            const KIND: MessageKind = MessageKind::$kind;

            fn routing_key(&self) -> RoutingKey {
                match Self::KIND {
                    MessageKind::Command => RoutingKey::command(Service::MailboxOps, Self::NAME),
                    MessageKind::Event => {
                        RoutingKey::event(Service::MailboxOps, Self::NAME, Self::VERSION)
                    }
                }
            }
        }
    };
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxState {
    /// The Entra object id of the mailbox's user.
    pub external_directory_object_id: Uuid,
    pub primary_smtp_address: String,
    /// `SMTP:` (primary) and `smtp:` entries as Exchange lists them.
    pub email_addresses: Vec<String>,
    /// e.g. `UserMailbox` once a licensed user's mailbox is provisioned [S51].
    pub recipient_type_details: String,
    pub is_dir_synced: bool,
    pub is_exchange_cloud_managed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadMailbox {
    /// UPN, primary address, alias or object id.
    pub identity: String,
}
mailbox_message!(ReadMailbox, "read-mailbox", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxRead {
    pub identity: String,
    /// `None`: no active mailbox now (unlicensed, disconnected, soft-deleted, or reconnecting).
    pub mailbox: Option<MailboxState>,
}
mailbox_message!(MailboxRead, "mailbox-read", Event);

/// Adds `address` (e.g. `smtp:alias@tenant.mail.onmicrosoft.com`) without touching the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEmailAddress {
    pub identity: String,
    pub address: String,
}
mailbox_message!(AddEmailAddress, "add-email-address", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAddressAdded {
    pub identity: String,
    pub address: String,
    pub already_present: bool,
}
mailbox_message!(EmailAddressAdded, "email-address-added", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetExchangeCloudManaged {
    pub identity: String,
    pub value: bool,
}
mailbox_message!(
    SetExchangeCloudManaged,
    "set-exchange-cloud-managed",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeCloudManagedSet {
    pub identity: String,
    pub value: bool,
    pub already: bool,
}
mailbox_message!(ExchangeCloudManagedSet, "exchange-cloud-managed-set", Event);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailboxFailureKind {
    Invalid,
    NotFound,
    /// The mailbox is synced from on-premises: Exchange will not edit it [S37].
    OutOfWriteScope,
    /// Another object holds the address [S14b].
    ObjectConflict,
    Forbidden,
    /// The tenant cannot do it (IsExchangeCloudManaged before Connect 2.5.76.0 [S36]).
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxCommandFailed {
    pub command: String,
    pub kind: MailboxFailureKind,
    pub reason: String,
}
mailbox_message!(MailboxCommandFailed, "mailbox-command-failed", Event);
