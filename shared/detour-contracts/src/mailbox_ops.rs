//! mailbox-ops's commands and events (Exchange Online): read a mailbox, add an address to it,
//! move its Exchange attributes' source of authority to the cloud [S36]. Reads answer the
//! current state; writes check first and answer "already" on a repeat.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{address::ProxyAddress, message::service_message};

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
service_message!(ReadMailbox, MailboxOps, "read-mailbox", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxRead {
    pub identity: String,
    /// `None`: no active mailbox now (unlicensed, disconnected, soft-deleted, or reconnecting).
    pub mailbox: Option<MailboxState>,
}
service_message!(MailboxRead, MailboxOps, "mailbox-read", Event);

/// Reads the domains Exchange Online accepts mail for (`Get-AcceptedDomain`): without the
/// coexistence domain no routing address can work, whatever Detour changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadAcceptedDomains {}
service_message!(
    ReadAcceptedDomains,
    MailboxOps,
    "read-accepted-domains",
    Command
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedDomainsRead {
    /// Domain names, as Exchange lists them.
    pub domains: Vec<String>,
}
service_message!(
    AcceptedDomainsRead,
    MailboxOps,
    "accepted-domains-read",
    Event
);

/// Adds `address` (e.g. `smtp:alias@tenant.mail.onmicrosoft.com`) without touching the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEmailAddress {
    pub identity: String,
    pub address: ProxyAddress,
}
service_message!(AddEmailAddress, MailboxOps, "add-email-address", Command);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAddressAdded {
    pub identity: String,
    pub address: ProxyAddress,
    pub already_present: bool,
}
service_message!(EmailAddressAdded, MailboxOps, "email-address-added", Event);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetExchangeCloudManaged {
    pub identity: String,
    pub value: bool,
}
service_message!(
    SetExchangeCloudManaged,
    MailboxOps,
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
service_message!(
    ExchangeCloudManagedSet,
    MailboxOps,
    "exchange-cloud-managed-set",
    Event
);

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
    /// The tenant cannot do it (IsExchangeCloudManaged before Connect 2.5.190.0 [S36]).
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxCommandFailed {
    pub command: String,
    pub kind: MailboxFailureKind,
    pub reason: String,
}
service_message!(
    MailboxCommandFailed,
    MailboxOps,
    "mailbox-command-failed",
    Event
);
