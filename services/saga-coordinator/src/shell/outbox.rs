//! Everything one decision writes besides the record: the commands it sends (each expiring
//! when the saga stops waiting for it), the progress a ticket is owed, and the timeline lines
//! that say so, built in one call.

use detour_contracts::ContractError;
use time::OffsetDateTime;

use super::{
    engine::Delivery,
    timeline::{command_entry, describe, entry},
    wire::{self, Origin},
};
use crate::{
    saga::{
        Advance, Phase, Policy, Purpose, command_expiry, messages::StepCommand,
        progress::milestones,
    },
    store::{LogEntry, OutboxMessage, SagaRecord},
};

/// The outbox rows and log entries for `decided`, the decision on `delivery` about `record`.
pub fn changes(
    policy: &Policy,
    record: &SagaRecord,
    delivery: &Delivery,
    decided: &Advance,
    origin: &Origin,
    now: OffsetDateTime,
) -> Result<(Vec<OutboxMessage>, Vec<LogEntry>), ContractError> {
    let mut outbox = commands(policy, &decided.sends, &decided.next, origin, now)?;
    let told = told(record, &decided.next, origin)?;
    let mut log = vec![entry(now, "input", describe(&delivery.event))];
    log.push(match &decided.note {
        Some(note) => entry(now, "decision", note.clone()),
        None => entry(now, "ignored", "stale or out of place: nothing changes"),
    });
    log.extend(outbox.iter().map(|m| command_entry(now, m)));
    log.extend(
        told.iter()
            .map(|(key, _)| entry(now, "ticket", format!("milestone {key} for the ticket"))),
    );
    outbox.extend(told.into_iter().map(|(_, row)| row));
    Ok((outbox, log))
}

/// The outbox rows for `sends`, each expiring when the saga stops waiting for it.
fn commands(
    policy: &Policy,
    sends: &[(Purpose, StepCommand)],
    next: &Phase,
    origin: &Origin,
    now: OffsetDateTime,
) -> Result<Vec<OutboxMessage>, ContractError> {
    sends
        .iter()
        // The takeover lease is the engine's, in the same transaction: no bus command.
        .filter(|(_, command)| !matches!(command, StepCommand::TakeoverLease(_)))
        .map(|(purpose, command)| {
            let expires_at = command_expiry(policy, next, purpose, now);
            wire::encode(command, *purpose, origin, expires_at)
        })
        .collect()
}

/// The progress events a ticketed remediation owes its ticket for going to `next`, each with
/// its milestone's key.
fn told(
    record: &SagaRecord,
    next: &Phase,
    origin: &Origin,
) -> Result<Vec<(String, OutboxMessage)>, ContractError> {
    if record.ticket.is_none() {
        return Ok(Vec::new());
    }
    // `traceparent` is `version-traceid-spanid-flags`.
    let trace_id = record
        .trace_context
        .get("traceparent")
        .and_then(|parent| parent.split('-').nth(1))
        .map(str::to_owned);
    milestones(&record.user, &record.phase, next)
        .into_iter()
        .map(|milestone| {
            let key = milestone.key.clone();
            wire::progress(milestone, &record.user, trace_id.clone(), origin).map(|row| (key, row))
        })
        .collect()
}
