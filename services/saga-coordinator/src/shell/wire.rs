//! The saga's commands and answers as they travel: a [`StepCommand`] becomes an outbox row
//! holding its envelope (so does a ticket's milestone, as a progress event), and a delivery
//! becomes a [`StepEvent`] by its type name.

use detour_bus::Incoming;
use detour_contracts::{
    ContractError, Envelope, EnvelopeHeader, Message, MessageId, SagaId, TicketRef, ad_ops,
    cloud_directory, mailbox_ops, saga_coordinator::RemediationProgress, sync_trigger,
};

use crate::{
    saga::{
        Purpose,
        messages::{StepCommand, StepEvent},
        progress::Milestone,
    },
    store::OutboxMessage,
};

/// Who a command is sent for, and what caused it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub saga_id: SagaId,
    pub ticket: Option<TicketRef>,
    pub causation: Option<MessageId>,
}

pub fn encode(
    command: &StepCommand,
    purpose: Purpose,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    match command.clone() {
        StepCommand::FindUser(c) => outbox_row(c, purpose, origin),
        StepCommand::MoveUser(c) => outbox_row(c, purpose, origin),
        StepCommand::MoveUserToDn(c) => outbox_row(c, purpose, origin),
        StepCommand::RequestSyncCycle(c) => outbox_row(c, purpose, origin),
        StepCommand::ReadDeletedUser(c) => outbox_row(c, purpose, origin),
        StepCommand::RestoreUser(c) => outbox_row(c, purpose, origin),
        StepCommand::AssignLicense(c) => outbox_row(c, purpose, origin),
        StepCommand::RemoveLicense(c) => outbox_row(c, purpose, origin),
        StepCommand::ReadCloudUser(c) => outbox_row(c, purpose, origin),
        StepCommand::FindAddressHolders(c) => outbox_row(c, purpose, origin),
        StepCommand::ReadTenant(c) => outbox_row(c, purpose, origin),
        StepCommand::ReadConnectState(c) => outbox_row(c, purpose, origin),
        StepCommand::ReadMailbox(c) => outbox_row(c, purpose, origin),
        StepCommand::AddEmailAddress(c) => outbox_row(c, purpose, origin),
        StepCommand::SetExchangeCloudManaged(c) => outbox_row(c, purpose, origin),
    }
}

/// A milestone for the ticket, as a `remediation-progress` event.
pub fn progress(
    milestone: Milestone,
    user: &str,
    trace_id: Option<String>,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    let event = RemediationProgress {
        saga_id: origin.saga_id,
        user: user.to_owned(),
        milestone: milestone.key,
        stage: milestone.stage,
        headline: milestone.headline,
        details: milestone.details,
        trace_id,
    };
    envelope_row(event, None, origin)
}

fn outbox_row<M: Message>(
    payload: M,
    purpose: Purpose,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    envelope_row(payload, Some(purpose), origin)
}

fn envelope_row<M: Message>(
    payload: M,
    purpose: Option<Purpose>,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    let mut envelope = Envelope::new(payload).with_saga(origin.saga_id);
    envelope.ticket = origin.ticket.clone();
    envelope.causation_id = origin.causation;
    let body = envelope.to_json()?;
    Ok(OutboxMessage {
        message_id: envelope.message_id.to_string(),
        purpose,
        exchange: M::KIND.exchange().to_owned(),
        routing_key: envelope.payload.routing_key().to_string(),
        message_type: M::NAME.to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A step service's answer, with its envelope's ids; `None` for a message the saga never
/// asks for (another service's traffic on the same exchange).
pub fn decode(incoming: &Incoming) -> Result<Option<(EnvelopeHeader, StepEvent)>, ContractError> {
    let header = incoming.header()?;
    let event = match header.message_type.as_str() {
        ad_ops::UserFound::NAME => StepEvent::UserFound(payload(incoming)?),
        ad_ops::UserMoved::NAME => StepEvent::UserMoved(payload(incoming)?),
        ad_ops::AdOpsCommandFailed::NAME => StepEvent::AdFailed(payload(incoming)?),
        sync_trigger::SyncCycleCompleted::NAME => StepEvent::SyncCycleCompleted(payload(incoming)?),
        sync_trigger::SyncCycleRefused::NAME => StepEvent::SyncCycleRefused(payload(incoming)?),
        sync_trigger::ConnectStateRead::NAME => StepEvent::ConnectStateRead(payload(incoming)?),
        cloud_directory::DeletedUserRead::NAME => StepEvent::DeletedUserRead(payload(incoming)?),
        cloud_directory::UserRestored::NAME => StepEvent::UserRestored(payload(incoming)?),
        cloud_directory::LicenseAssigned::NAME => StepEvent::LicenseAssigned(payload(incoming)?),
        cloud_directory::LicenseRemoved::NAME => StepEvent::LicenseRemoved(payload(incoming)?),
        cloud_directory::CloudUserRead::NAME => StepEvent::CloudUserRead(payload(incoming)?),
        cloud_directory::TenantRead::NAME => StepEvent::TenantRead(payload(incoming)?),
        cloud_directory::AddressHoldersFound::NAME => {
            StepEvent::AddressHoldersFound(payload(incoming)?)
        }
        cloud_directory::CloudCommandFailed::NAME => StepEvent::CloudFailed(payload(incoming)?),
        mailbox_ops::MailboxRead::NAME => StepEvent::MailboxRead(payload(incoming)?),
        mailbox_ops::EmailAddressAdded::NAME => StepEvent::EmailAddressAdded(payload(incoming)?),
        mailbox_ops::ExchangeCloudManagedSet::NAME => {
            StepEvent::ExchangeCloudManagedSet(payload(incoming)?)
        }
        mailbox_ops::MailboxCommandFailed::NAME => StepEvent::MailboxFailed(payload(incoming)?),
        _ => return Ok(None),
    };
    Ok(Some((header, event)))
}

fn payload<M: Message>(incoming: &Incoming) -> Result<M, ContractError> {
    incoming.decode::<M>().map(|envelope| envelope.payload)
}
