//! The one place a remediation changes: load it, let the pure core decide, store the outcome
//! (record, inbox, outbox, timers, log) in one transaction, retrying on a version conflict.
//! Everything that moves a remediation (the API, answers from the bus, timers, admission)
//! comes through here.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
};

use detour_contracts::{ContractError, MessageId, SagaId, TicketRef, Upn};
use time::OffsetDateTime;
use tokio::sync::{Mutex, Notify};

use super::{lease, outbox, timeline::entry, wire::Origin};
use crate::{
    saga::{
        Budgets, Event, Input, Phase, Policy, Purpose, State, admission_due, advance, requested,
    },
    store::{Commit, Committed, Filter, OutboxMessage, SagaRecord, Store, StoreError},
};

/// How many times a change is re-decided after losing a race before giving up.
const CONFLICT_RETRIES: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(String),
    #[error("no saga {0}")]
    NotFound(SagaId),
    #[error("saga {0} kept changing under us; try again")]
    Contended(SagaId),
    #[error("the takeover lease kept changing under us; try again")]
    LeaseContended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode a command: {0}")]
    Contract(#[from] ContractError),
}

/// A request to remediate one user.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub user: String,
    pub ticket: Option<TicketRef>,
    /// Diagnose and report the plan; change nothing.
    pub dry_run: bool,
    /// The trace this remediation continues (an incoming request's), if any.
    pub trace_context: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New(SagaId),
    /// The user already has a remediation running: this request joins it.
    Joined(SagaId),
}

/// What became of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Stored; `changed` says whether the remediation moved.
    Applied { changed: bool },
    /// The same message was handled before: nothing done.
    Duplicate,
}

/// Something that moves a remediation, with the message id that makes it happen once.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub saga_id: SagaId,
    /// Recorded in the inbox: the same id again changes nothing.
    pub message_id: String,
    pub event: Event,
    /// The message that caused it, as the causation of the commands it leads to.
    pub causation: Option<MessageId>,
    /// A timer being fired, removed in the same transaction.
    pub fired_timer: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    policy: Arc<Policy>,
    budgets: Budgets,
    /// Woken when the outbox has new rows.
    relay: Arc<Notify>,
    /// One admission pass at a time in this process (and, on PostgreSQL, across replicas).
    admission: Arc<Mutex<()>>,
    /// Changes to one saga take turns within this process (answers to its five reads arrive
    /// together): a lost optimistic race costs a reload and a second decision, so this keeps
    /// those for races between replicas.
    stripes: Arc<[Mutex<()>]>,
    /// What this process sent lately, by message id: most answers find their command here
    /// instead of in the store (a restart or another replica's command falls back to it).
    sent: Arc<std::sync::Mutex<HashMap<String, (SagaId, Purpose)>>>,
}

/// Past this many remembered commands the memory starts afresh; the store still knows them.
const REMEMBERED: usize = 100_000;

/// Enough stripes that unrelated sagas rarely wait on each other.
const STRIPES: usize = 64;

impl Engine {
    pub fn new(store: Store, policy: Policy, budgets: Budgets) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            budgets,
            relay: Arc::new(Notify::new()),
            admission: Arc::new(Mutex::new(())),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            sent: Arc::default(),
        }
    }

    /// Which saga sent `message_id`, and for what: from memory, else from the store.
    pub async fn purpose_of(
        &self,
        message_id: &str,
    ) -> Result<Option<(SagaId, Option<Purpose>)>, StoreError> {
        let remembered = self.remembered().get(message_id).copied();
        match remembered {
            Some((saga_id, purpose)) => Ok(Some((saga_id, Some(purpose)))),
            None => self.store.purpose_of(message_id).await,
        }
    }

    fn remember(&self, saga_id: SagaId, outbox: &[OutboxMessage]) {
        let mut sent = self.remembered();
        if sent.len() > REMEMBERED {
            sent.clear();
        }
        for message in outbox {
            if let Some(purpose) = message.purpose {
                sent.insert(message.message_id.clone(), (saga_id, purpose));
            }
        }
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SagaId, Purpose)>> {
        self.sent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn stripe(&self, saga_id: SagaId) -> &Mutex<()> {
        let index = saga_id.as_uuid().as_u128() % STRIPES as u128;
        &self.stripes[usize::try_from(index).unwrap_or(0)]
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn relay_wakeup(&self) -> Arc<Notify> {
        self.relay.clone()
    }

    /// Requests a remediation of `request.user` (it diagnoses as soon as a diagnosis slot is
    /// free), or joins the remediation the user already has.
    pub async fn start(&self, request: StartRequest) -> Result<Started, EngineError> {
        let user = validate_user(&request.user)?;
        // A ticket delivered again (or updated) joins what it started, even once that ended.
        if let Some(ticket) = &request.ticket
            && let Some(earlier) = self.ticket_saga(ticket, &user, request.dry_run).await?
        {
            return self.joined(earlier, &request).await;
        }
        if !request.dry_run
            && let Some(existing) = self.store.active_for(&user).await?
        {
            return self.joined(existing, &request).await;
        }
        let saga_id = SagaId::new();
        let now = OffsetDateTime::now_utc();
        let record = SagaRecord {
            saga_id,
            user: user.clone(),
            ticket: request.ticket.clone(),
            dry_run: request.dry_run,
            trace_context: request.trace_context.clone(),
            phase: requested(&user),
            created_at: now,
        };
        let log = vec![
            entry(
                now,
                "input",
                format!(
                    "{} requested for {user}{}",
                    if request.dry_run {
                        "a dry run"
                    } else {
                        "a remediation"
                    },
                    request
                        .ticket
                        .as_ref()
                        .map(|t| format!(" (ticket {t})"))
                        .unwrap_or_default()
                ),
            ),
            entry(now, "decision", "waiting for a diagnosis slot"),
        ];
        let commit = Commit {
            expected_version: None,
            record,
            inbox: None,
            outbox: Vec::new(),
            timers: Vec::new(),
            fired_timer: None,
            log,
            lease: None,
        };
        match self.store.commit(&commit).await? {
            Committed::UserTaken { existing } => self.joined(existing, &request).await,
            Committed::Applied { .. } | Committed::Duplicate => {
                self.admit_waiting().await?;
                Ok(Started::New(saga_id))
            }
        }
    }

    /// The remediation `ticket` already asked for about `user`, if any.
    async fn ticket_saga(
        &self,
        ticket: &TicketRef,
        user: &str,
        dry_run: bool,
    ) -> Result<Option<SagaId>, EngineError> {
        let filter = Filter {
            ticket: Some(ticket.to_string()),
            user: Some(user.to_owned()),
            ..Filter::default()
        };
        for summary in self.store.list(&filter).await? {
            if let Some(saga) = self.store.load(summary.saga_id).await?
                && saga.record.dry_run == dry_run
            {
                return Ok(Some(summary.saga_id));
            }
        }
        Ok(None)
    }

    /// Approves the plan `ticket`'s remediation awaits; `None` when none awaits one.
    pub async fn approve_for_ticket(
        &self,
        ticket: &TicketRef,
        approved_by: &str,
    ) -> Result<Option<SagaId>, EngineError> {
        let filter = Filter {
            ticket: Some(ticket.to_string()),
            status: Some("awaiting-approval".into()),
            ..Filter::default()
        };
        for summary in self.store.list(&filter).await? {
            let Some(saga) = self.store.load(summary.saga_id).await? else {
                continue;
            };
            if let Phase::Running { saga: running, .. } = &saga.record.phase
                && let State::AwaitingApproval { plan_hash, .. } = &running.state
            {
                let note = entry(
                    OffsetDateTime::now_utc(),
                    "input",
                    format!("approved on ticket {ticket} by {approved_by}"),
                );
                self.store.append_log(summary.saga_id, &note).await?;
                let approve = Input::Approve {
                    plan_hash: plan_hash.clone(),
                };
                self.operator(summary.saga_id, approve).await?;
                return Ok(Some(summary.saga_id));
            }
        }
        Ok(None)
    }

    /// A request for a user whose remediation runs joins it, and its timeline says so.
    async fn joined(
        &self,
        existing: SagaId,
        request: &StartRequest,
    ) -> Result<Started, EngineError> {
        let from = request
            .ticket
            .as_ref()
            .map(|t| format!(" from ticket {t}"))
            .unwrap_or_default();
        let note = entry(
            OffsetDateTime::now_utc(),
            "input",
            format!("another request{from} joined this remediation"),
        );
        self.store.append_log(existing, &note).await?;
        Ok(Started::Joined(existing))
    }

    /// Applies one event to its remediation, then lets waiting ones in if it freed a slot or
    /// joined the line.
    pub async fn handle(&self, delivery: Delivery) -> Result<Handled, EngineError> {
        let (handled, admission_due) = self.apply_all(&delivery).await?;
        if admission_due {
            self.admit_waiting().await?;
        }
        Ok(handled)
    }

    /// Applies `delivery`, then the answers it leads to (the takeover lease's, which the
    /// saga hears once its change is stored); says how the first went and whether any change
    /// calls for an admission pass.
    async fn apply_all(&self, delivery: &Delivery) -> Result<(Handled, bool), EngineError> {
        let (handled, mut admission_due, mut follow_ups) = self.apply(delivery).await?;
        while let Some(next) = follow_ups.pop() {
            let (_, due, more) = self.apply(&next).await?;
            admission_due |= due;
            follow_ups.extend(more);
        }
        Ok((handled, admission_due))
    }

    /// Loads, decides, stores; on a lost race, again from the top. Says whether the change
    /// calls for an admission pass (a slot freed, or a remediation joined the line).
    async fn apply(
        &self,
        delivery: &Delivery,
    ) -> Result<(Handled, bool, Vec<Delivery>), EngineError> {
        let _turn = self.stripe(delivery.saga_id).lock().await;
        for _ in 0..CONFLICT_RETRIES {
            let Some(current) = self.store.load(delivery.saga_id).await? else {
                if let Some(timer) = &delivery.fired_timer {
                    self.store.drop_timer(timer).await?;
                }
                return Err(EngineError::NotFound(delivery.saga_id));
            };
            let record = current.record;
            let now = OffsetDateTime::now_utc();
            let decided = advance(
                &self.policy,
                &record.phase,
                record.dry_run,
                &delivery.event,
                now,
            );
            let changed = decided.next != record.phase
                || !decided.sends.is_empty()
                || !decided.timers.is_empty();
            // A timer for a step long done (every step leaves its deadline behind) is just
            // removed: it is not an input worth a version or a line in the timeline.
            if let (false, Some(timer)) = (changed, &delivery.fired_timer) {
                self.store.drop_timer(timer).await?;
                return Ok((Handled::Applied { changed }, false, Vec::new()));
            }
            let admission_due = admission_due(&record.phase, &decided.next);
            let origin = Origin {
                saga_id: record.saga_id,
                ticket: record.ticket.clone(),
                causation: delivery.causation,
            };
            let (mut outbox, mut log) =
                outbox::changes(&self.policy, &record, delivery, &decided, &origin, now)?;
            let lease = lease::change(
                &self.store,
                &self.policy,
                &record,
                current.version,
                &decided,
                &origin,
                now,
            )
            .await?;
            let (lease, answers) = match lease {
                Some(change) => {
                    outbox.extend(change.outbox);
                    log.extend(change.log);
                    (Some(change.write), change.answers)
                }
                None => (None, Vec::new()),
            };
            let next = SagaRecord {
                phase: decided.next.clone(),
                ..record
            };
            let commit = Commit {
                expected_version: Some(current.version),
                record: next,
                inbox: Some(delivery.message_id.clone()),
                outbox,
                timers: decided
                    .timers
                    .iter()
                    .map(|t| (t.at, t.timer.clone()))
                    .collect(),
                fired_timer: delivery.fired_timer.clone(),
                log,
                lease,
            };
            match self.store.commit(&commit).await {
                Ok(Committed::Applied { .. }) => {
                    if !commit.outbox.is_empty() {
                        self.remember(delivery.saga_id, &commit.outbox);
                        self.relay.notify_one();
                    }
                    return Ok((Handled::Applied { changed }, admission_due, answers));
                }
                Ok(Committed::Duplicate | Committed::UserTaken { .. }) => {
                    return Ok((Handled::Duplicate, false, Vec::new()));
                }
                Err(StoreError::Conflict(_) | StoreError::LeaseConflict) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Contended(delivery.saga_id))
    }

    /// Starts requested remediations diagnosing while diagnosis slots are free, and queued ones
    /// running while descope slots are free (cloud-managed ones never wait for one); oldest
    /// first.
    pub async fn admit_waiting(&self) -> Result<(), EngineError> {
        let _one_pass = self.admission.lock().await;
        self.store.admitting(self.admission_pass()).await?
    }

    async fn admission_pass(&self) -> Result<(), EngineError> {
        for (saga_id, line, version) in self.store.admissible(self.budgets).await? {
            // One id per line left, at that version: leaving `requested` must not dedup
            // leaving `queued`, nor a second time in the queue (a fallback) the first.
            let admitted = Delivery {
                saga_id,
                message_id: format!("admit:{saga_id}:{line}:{version}"),
                event: Event::Admitted,
                causation: None,
                fired_timer: None,
            };
            self.apply_all(&admitted).await?;
        }
        Ok(())
    }

    /// An operator's word on a saga (approve, abort, retry, resolve).
    pub async fn operator(&self, saga_id: SagaId, input: Input) -> Result<Handled, EngineError> {
        self.handle(Delivery {
            saga_id,
            message_id: format!("operator:{}", MessageId::new()),
            event: Event::Saga(input),
            causation: None,
            fired_timer: None,
        })
        .await
    }
}

/// A plausible UPN: one `@` between a name and a dotted domain, no spaces or control
/// characters, at most 256 characters (113 before the `@`). Anything else is refused before a
/// single read is sent.
fn validate_user(user: &str) -> Result<String, EngineError> {
    Upn::parse(user)
        .map(String::from)
        .map_err(|error| EngineError::Invalid(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_upns_are_taken() {
        assert_eq!(
            validate_user(" ada@contoso.com ").ok().as_deref(),
            Some("ada@contoso.com")
        );
        for bad in [
            "",
            "ada",
            "@contoso.com",
            "ada@",
            "a@b@c.com",
            "ada lovelace@contoso.com",
            "ada@contoso",
            "ada\n@contoso.com",
        ] {
            assert!(validate_user(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}@contoso.com", "a".repeat(114));
        assert!(validate_user(&long).is_err());
    }
}
