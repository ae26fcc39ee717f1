//! The takeover lease around the engine: a saga's hold or release is carried out in the same
//! transaction as the saga's change (and a saga that stops running lets go there too), its
//! answer comes back to the saga as a delivery of its own, and the lease's flag commands go
//! out through the outbox like any other. Their answers, and a lease left waiting on one too
//! long (tended from the timer loop), move the lease alone.

use detour_contracts::{SagaId, cloud_directory::SetTakeoverBlock};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    engine::{Delivery, Engine, EngineError},
    timeline::{entry, purpose_label},
    wire::{self, Origin},
};
use crate::{
    saga::{
        Advance, Event, Policy, Purpose,
        messages::{StepCommand, StepEvent},
        takeover::{Lease, LeaseOp},
    },
    store::{LeaseWrite, LogEntry, OutboxMessage, SagaRecord, Store, StoreError},
};

/// How many times a lease-only change is tried again after losing a race.
const CONFLICT_RETRIES: usize = 16;

/// The lease's own commands, not sent for any saga, are recorded under this id.
const LEASE_ORIGIN: Uuid = Uuid::nil();

/// What one saga decision does to the lease.
pub(super) struct LeaseChange {
    pub write: LeaseWrite,
    pub outbox: Vec<OutboxMessage>,
    pub log: Vec<LogEntry>,
    /// The lease's answers to the saga, delivered once the change is stored.
    pub answers: Vec<Delivery>,
}

/// The lease's part in `decided`, the decision on `record` read at `version`: the holds and
/// releases its steps ask for, and the release of a saga that stops running.
pub(super) async fn change(
    store: &Store,
    policy: &Policy,
    record: &SagaRecord,
    version: i64,
    decided: &Advance,
    origin: &Origin,
    now: OffsetDateTime,
) -> Result<Option<LeaseChange>, EngineError> {
    let mut ops: Vec<(Option<Purpose>, LeaseOp)> = decided
        .sends
        .iter()
        .filter_map(|(purpose, command)| match command {
            StepCommand::TakeoverLease(op) => Some((Some(*purpose), *op)),
            _ => None,
        })
        .collect();
    if record.phase.may_hold_takeover_lease() && !decided.next.may_hold_takeover_lease() {
        ops.push((None, LeaseOp::Release));
    }
    if ops.is_empty() {
        return Ok(None);
    }
    let (mut lease, expected_version) = store.lease().await?;
    // Letting go on the way out matters only to a saga that holds it.
    ops.retain(|(purpose, _)| purpose.is_some() || lease.holders.contains(&record.saga_id));
    if ops.is_empty() {
        return Ok(None);
    }
    let mut outbox = Vec::new();
    let mut log = Vec::new();
    let mut answers = Vec::new();
    for (purpose, op) in ops {
        let (answer, command) = lease.apply(record.saga_id, op);
        if let Some(command) = command {
            outbox.push(send(&mut lease, command, policy, origin, now)?);
        }
        log.push(entry(
            now,
            "lease",
            format!(
                "takeover lease {op:?}: {answer:?}; the window is {:?}, {} holding",
                lease.window,
                lease.holders.len()
            ),
        ));
        if let Some(purpose) = purpose {
            answers.push(Delivery {
                saga_id: record.saga_id,
                message_id: format!(
                    "lease:{}:{version}:{}",
                    record.saga_id,
                    purpose_label(&purpose)
                ),
                event: Event::Answered {
                    purpose,
                    answer: StepEvent::TakeoverLease(answer),
                },
                causation: origin.causation,
                fired_timer: None,
            });
        }
    }
    Ok(Some(LeaseChange {
        write: LeaseWrite {
            expected_version,
            lease,
        },
        outbox,
        log,
        answers,
    }))
}

/// The outbox row for the lease's `command`, recorded as the one its window now waits on.
fn send(
    lease: &mut Lease,
    command: SetTakeoverBlock,
    policy: &Policy,
    origin: &Origin,
    now: OffsetDateTime,
) -> Result<OutboxMessage, EngineError> {
    let row = wire::encode(
        &StepCommand::SetTakeoverBlock(command),
        Purpose::Lease,
        origin,
        now + policy.timing.action_deadline,
    )?;
    lease.sent(row.message_id.clone(), now);
    Ok(row)
}

impl Engine {
    /// cloud-directory answered the lease's command `causation` with `answer` (its own
    /// message `message_id`, recorded so a redelivery moves nothing).
    pub async fn lease_answered(
        &self,
        causation: &str,
        message_id: &str,
        answer: &StepEvent,
    ) -> Result<(), EngineError> {
        self.move_lease(Some(message_id), |lease| match answer {
            StepEvent::TakeoverBlockSet(set) => lease.answered(causation, set),
            other => {
                // Refused for now: the command is asked again once its answer is overdue.
                tracing::warn!(?other, "the takeover block was not written");
                None
            }
        })
        .await
    }

    /// Sends the lease's command again if its answer is overdue, and closes a window nobody
    /// holds: the lease never waits on a lost message, nor on a saga that is gone.
    pub async fn tend_lease(&self) -> Result<(), EngineError> {
        let answer_within = self.policy().timing.action_deadline;
        self.move_lease(None, |lease| {
            lease.tend(OffsetDateTime::now_utc(), answer_within)
        })
        .await
    }

    async fn move_lease(
        &self,
        inbox: Option<&str>,
        step: impl Fn(&mut Lease) -> Option<SetTakeoverBlock>,
    ) -> Result<(), EngineError> {
        let origin = Origin {
            saga_id: SagaId::from(LEASE_ORIGIN),
            ticket: None,
            causation: None,
        };
        for _ in 0..CONFLICT_RETRIES {
            let (before, expected_version) = self.store().lease().await?;
            let mut lease = before.clone();
            let command = step(&mut lease);
            if lease == before && command.is_none() && inbox.is_none() {
                return Ok(());
            }
            let now = OffsetDateTime::now_utc();
            let outbox = match command {
                Some(command) => vec![send(&mut lease, command, self.policy(), &origin, now)?],
                None => Vec::new(),
            };
            let write = LeaseWrite {
                expected_version,
                lease,
            };
            match self
                .store()
                .commit_lease(inbox, &write, origin.saga_id, &outbox)
                .await
            {
                Ok(_) => {
                    if !outbox.is_empty() {
                        self.relay_wakeup().notify_one();
                    }
                    return Ok(());
                }
                Err(StoreError::LeaseConflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::LeaseContended)
    }
}
