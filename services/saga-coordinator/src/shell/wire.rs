//! The saga's commands and answers as they travel: a [`StepCommand`] becomes an outbox row
//! holding its envelope (so does a ticket's milestone, as a progress event), and a delivery
//! becomes a [`StepEvent`] by its type name.

use detour_bus::Incoming;
use detour_contracts::{
    ContractError, Envelope, EnvelopeHeader, Message, MessageId, SagaId, TicketRef, ad_ops,
    cloud_directory, mailbox_ops, saga_coordinator::RemediationProgress, sync_trigger,
};
use time::OffsetDateTime;

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

/// The outbox row for `command`; a copy delivered after `expires_at` is dead-lettered by the
/// step service unread.
pub fn encode(
    command: &StepCommand,
    purpose: Purpose,
    origin: &Origin,
    expires_at: OffsetDateTime,
) -> Result<OutboxMessage, ContractError> {
    let sent = Sent {
        purpose,
        expires_at,
    };
    match command.clone() {
        StepCommand::FindUser(c) => outbox_row(c, sent, origin),
        StepCommand::MoveUser(c) => outbox_row(c, sent, origin),
        StepCommand::MoveUserToDn(c) => outbox_row(c, sent, origin),
        StepCommand::RequestSyncCycle(c) => outbox_row(c, sent, origin),
        StepCommand::ReadDeletedUser(c) => outbox_row(c, sent, origin),
        StepCommand::RestoreUser(c) => outbox_row(c, sent, origin),
        StepCommand::AssignLicense(c) => outbox_row(c, sent, origin),
        StepCommand::RemoveLicense(c) => outbox_row(c, sent, origin),
        StepCommand::ReadCloudUser(c) => outbox_row(c, sent, origin),
        StepCommand::FindAddressHolders(c) => outbox_row(c, sent, origin),
        StepCommand::ReadTenant(c) => outbox_row(c, sent, origin),
        StepCommand::ReadConnectState(c) => outbox_row(c, sent, origin),
        StepCommand::ReadMailbox(c) => outbox_row(c, sent, origin),
        StepCommand::AddEmailAddress(c) => outbox_row(c, sent, origin),
        StepCommand::SetExchangeCloudManaged(c) => outbox_row(c, sent, origin),
        StepCommand::AddProxyAddress(c) => outbox_row(c, sent, origin),
        StepCommand::RemoveProxyAddress(c) => outbox_row(c, sent, origin),
        StepCommand::ReadAcceptedDomains(c) => outbox_row(c, sent, origin),
        StepCommand::SetUserCloudManaged(c) => outbox_row(c, sent, origin),
        StepCommand::SetTakeoverBlock(c) => outbox_row(c, sent, origin),
        // The engine carries these out in the saga's own transaction; none goes on the bus.
        StepCommand::TakeoverLease(op) => Err(ContractError::WrongType {
            expected: "a command to a step service".into(),
            actual: format!("the coordinator's own takeover lease ({op:?})"),
        }),
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

/// The envelope's `step` and `attempt` for a command sent for `purpose`.
pub fn step_and_attempt(purpose: &Purpose) -> (String, Option<u32>) {
    match purpose {
        Purpose::Read { read, .. } => (format!("read {read:?}"), None),
        Purpose::Step { step, attempt } => (format!("{step:?}"), Some(*attempt)),
        Purpose::Compensation { index, attempt } => {
            (format!("compensation {index}"), Some(*attempt))
        }
        Purpose::Lease => ("takeover lease".into(), None),
    }
}

/// What a command is sent for, and until when.
#[derive(Debug, Clone, Copy)]
struct Sent {
    purpose: Purpose,
    expires_at: OffsetDateTime,
}

fn outbox_row<M: Message>(
    payload: M,
    sent: Sent,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    envelope_row(payload, Some(sent), origin)
}

fn envelope_row<M: Message>(
    payload: M,
    sent: Option<Sent>,
    origin: &Origin,
) -> Result<OutboxMessage, ContractError> {
    let mut envelope = Envelope::new(payload).with_saga(origin.saga_id);
    envelope.ticket = origin.ticket.clone();
    envelope.causation_id = origin.causation;
    if let Some(sent) = sent {
        let (step, attempt) = step_and_attempt(&sent.purpose);
        envelope.expires_at = Some(sent.expires_at);
        envelope.step = Some(step);
        envelope.attempt = attempt;
    }
    let body = envelope.to_json()?;
    Ok(OutboxMessage {
        message_id: envelope.message_id.to_string(),
        purpose: sent.map(|sent| sent.purpose),
        exchange: M::KIND.exchange().to_owned(),
        routing_key: envelope.payload.routing_key().to_string(),
        message_type: M::NAME.to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The answers the saga asks for, each with its [`StepEvent`]: one list, so what the queue
/// binds and what [`decode`] reads cannot drift apart.
macro_rules! answers {
    ($($message:ty => $event:ident),+ $(,)?) => {
        /// The routing keys of every answer: the coordinator's queue binds exactly these.
        pub fn answer_keys() -> Vec<detour_contracts::RoutingKey> {
            [$(<$message as Message>::fixed_routing_key()),+].into_iter().flatten().collect()
        }

        /// A step service's answer, with its envelope's ids; `None` for a type that is no
        /// answer of the saga's (misrouted: the queue binds only answers and its commands).
        pub fn decode(
            incoming: &Incoming,
        ) -> Result<Option<(EnvelopeHeader, StepEvent)>, ContractError> {
            let header = incoming.header()?;
            let event = match header.message_type.as_str() {
                $(<$message as Message>::NAME => StepEvent::$event(payload(incoming)?),)+
                _ => return Ok(None),
            };
            Ok(Some((header, event)))
        }
    };
}

answers! {
    ad_ops::UserFound => UserFound,
    ad_ops::UserMoved => UserMoved,
    ad_ops::ProxyAddressAdded => ProxyAddressAdded,
    ad_ops::ProxyAddressRemoved => ProxyAddressRemoved,
    ad_ops::AdOpsCommandFailed => AdFailed,
    sync_trigger::SyncCycleCompleted => SyncCycleCompleted,
    sync_trigger::SyncCycleRefused => SyncCycleRefused,
    sync_trigger::ConnectStateRead => ConnectStateRead,
    cloud_directory::DeletedUserRead => DeletedUserRead,
    cloud_directory::UserRestored => UserRestored,
    cloud_directory::LicenseAssigned => LicenseAssigned,
    cloud_directory::LicenseRemoved => LicenseRemoved,
    cloud_directory::CloudUserRead => CloudUserRead,
    cloud_directory::TenantRead => TenantRead,
    cloud_directory::AddressHoldersFound => AddressHoldersFound,
    cloud_directory::UserCloudManagedSet => UserCloudManagedSet,
    cloud_directory::TakeoverBlockSet => TakeoverBlockSet,
    cloud_directory::CloudCommandFailed => CloudFailed,
    mailbox_ops::MailboxRead => MailboxRead,
    mailbox_ops::AcceptedDomainsRead => AcceptedDomainsRead,
    mailbox_ops::EmailAddressAdded => EmailAddressAdded,
    mailbox_ops::ExchangeCloudManagedSet => ExchangeCloudManagedSet,
    mailbox_ops::MailboxCommandFailed => MailboxFailed,
}

fn payload<M: Message>(incoming: &Incoming) -> Result<M, ContractError> {
    incoming.decode::<M>().map(|envelope| envelope.payload)
}
