//! Every message type this build knows, as data: routers look types up here and the contract
//! tests check each against its committed sample.

use crate::{
    ContractError, Envelope, Message, MessageKind, Ping, Pong, ad_ops, cloud_directory as cloud,
    mailbox_ops as mailbox, saga_coordinator as saga, sync_trigger,
};

#[derive(Debug, Clone, Copy)]
pub struct MessageSpec {
    pub name: &'static str,
    pub version: u32,
    pub kind: MessageKind,
    /// Parses a JSON envelope as this type and returns it re-encoded: a sample that comes
    /// back unchanged has every field the type has, and no other.
    pub round_trip: fn(&[u8]) -> Result<serde_json::Value, ContractError>,
}

impl MessageSpec {
    pub fn of<M: Message>() -> Self {
        Self {
            name: M::NAME,
            version: M::VERSION,
            kind: M::KIND,
            round_trip: |bytes| {
                let envelope = Envelope::<M>::from_json(bytes)?;
                serde_json::to_value(&envelope).map_err(|source| ContractError::Encode {
                    message_type: M::NAME,
                    source,
                })
            },
        }
    }
}

pub fn catalog() -> Vec<MessageSpec> {
    vec![
        MessageSpec::of::<Ping>(),
        MessageSpec::of::<Pong>(),
        MessageSpec::of::<ad_ops::FindUser>(),
        MessageSpec::of::<ad_ops::UserFound>(),
        MessageSpec::of::<ad_ops::MoveUser>(),
        MessageSpec::of::<ad_ops::MoveUserToDn>(),
        MessageSpec::of::<ad_ops::UserMoved>(),
        MessageSpec::of::<ad_ops::SetFilterAttribute>(),
        MessageSpec::of::<ad_ops::FilterAttributeSet>(),
        MessageSpec::of::<ad_ops::AddProxyAddress>(),
        MessageSpec::of::<ad_ops::ProxyAddressAdded>(),
        MessageSpec::of::<ad_ops::RemoveProxyAddress>(),
        MessageSpec::of::<ad_ops::ProxyAddressRemoved>(),
        MessageSpec::of::<ad_ops::AdOpsCommandFailed>(),
        MessageSpec::of::<sync_trigger::RequestSyncCycle>(),
        MessageSpec::of::<sync_trigger::SyncCycleCompleted>(),
        MessageSpec::of::<sync_trigger::SyncCycleRefused>(),
        MessageSpec::of::<sync_trigger::ReadConnectState>(),
        MessageSpec::of::<sync_trigger::ConnectStateRead>(),
        MessageSpec::of::<cloud::ReadCloudUser>(),
        MessageSpec::of::<cloud::CloudUserRead>(),
        MessageSpec::of::<cloud::ReadCloudUsers>(),
        MessageSpec::of::<cloud::CloudUsersRead>(),
        MessageSpec::of::<cloud::ReadDeletedUser>(),
        MessageSpec::of::<cloud::DeletedUserRead>(),
        MessageSpec::of::<cloud::ReadTenant>(),
        MessageSpec::of::<cloud::TenantRead>(),
        MessageSpec::of::<cloud::RestoreUser>(),
        MessageSpec::of::<cloud::UserRestored>(),
        MessageSpec::of::<cloud::AssignLicense>(),
        MessageSpec::of::<cloud::LicenseAssigned>(),
        MessageSpec::of::<cloud::RemoveLicense>(),
        MessageSpec::of::<cloud::LicenseRemoved>(),
        MessageSpec::of::<cloud::FindAddressHolders>(),
        MessageSpec::of::<cloud::AddressHoldersFound>(),
        MessageSpec::of::<cloud::SetUserCloudManaged>(),
        MessageSpec::of::<cloud::UserCloudManagedSet>(),
        MessageSpec::of::<cloud::SetTakeoverBlock>(),
        MessageSpec::of::<cloud::TakeoverBlockSet>(),
        MessageSpec::of::<cloud::CloudCommandFailed>(),
        MessageSpec::of::<mailbox::ReadMailbox>(),
        MessageSpec::of::<mailbox::ReadAcceptedDomains>(),
        MessageSpec::of::<mailbox::AcceptedDomainsRead>(),
        MessageSpec::of::<mailbox::MailboxRead>(),
        MessageSpec::of::<mailbox::AddEmailAddress>(),
        MessageSpec::of::<mailbox::EmailAddressAdded>(),
        MessageSpec::of::<mailbox::SetExchangeCloudManaged>(),
        MessageSpec::of::<mailbox::ExchangeCloudManagedSet>(),
        MessageSpec::of::<mailbox::MailboxCommandFailed>(),
        MessageSpec::of::<saga::StartRemediation>(),
        MessageSpec::of::<saga::RemediationAccepted>(),
        MessageSpec::of::<saga::RemediationRejected>(),
        MessageSpec::of::<saga::ApproveRemediation>(),
        MessageSpec::of::<saga::RemediationProgress>(),
        MessageSpec::of::<crate::ticket_gateway::PostTicketNote>(),
    ]
}
