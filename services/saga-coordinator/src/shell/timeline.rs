//! The timeline's wording: log entries for inputs, commands and answers, short enough to scan
//! and free of payloads.

use time::OffsetDateTime;

use super::wire;
use crate::{
    saga::{Event, Purpose, messages::StepEvent},
    store::{LogEntry, OutboxMessage},
};

pub fn entry(at: OffsetDateTime, kind: &str, detail: impl Into<String>) -> LogEntry {
    LogEntry {
        at,
        kind: kind.to_owned(),
        detail: detail.into(),
    }
}

pub fn command_entry(at: OffsetDateTime, message: &OutboxMessage) -> LogEntry {
    let purpose = message
        .purpose
        .map(|p| purpose_label(&p))
        .unwrap_or_default();
    entry(
        at,
        "command",
        format!(
            "{purpose}: {} (message {})",
            message.routing_key, message.message_id
        ),
    )
}

pub fn purpose_label(purpose: &Purpose) -> String {
    match wire::step_and_attempt(purpose) {
        (step, Some(attempt)) => format!("{step} attempt {attempt}"),
        (step, None) => step,
    }
}

/// What came in, as the timeline's `input` line.
pub fn describe(event: &Event) -> String {
    match event {
        Event::Answered { purpose, answer } => {
            format!(
                "{} answered: {}",
                purpose_label(purpose),
                answer_label(answer)
            )
        }
        Event::Undeliverable { purpose, reason } => {
            format!(
                "{} could not be delivered: {reason}",
                purpose_label(purpose)
            )
        }
        Event::Admitted => "admitted: a descope slot is free".into(),
        Event::Saga(input) => format!("{input:?}"),
    }
}

/// The answer's kind and, for failures, why: enough for the timeline without the payload.
fn answer_label(answer: &StepEvent) -> String {
    match answer {
        StepEvent::AdFailed(f) => format!("ad-ops failed: {}", f.reason),
        StepEvent::CloudFailed(f) => format!("cloud-directory failed: {}", f.reason),
        StepEvent::MailboxFailed(f) => format!("mailbox-ops failed: {}", f.reason),
        StepEvent::SyncCycleRefused(r) => format!("sync refused: {}", r.reason),
        StepEvent::SyncCycleCompleted(completed) => {
            let runs: Vec<String> = completed
                .runs
                .iter()
                .map(|run| {
                    let outcomes: Vec<_> = run.objects.iter().map(|o| o.outcome).collect();
                    format!("{} {:?}: {outcomes:?}", run.run_id, run.outcome)
                })
                .collect();
            format!("sync runs {}", runs.join("; "))
        }
        other => {
            let text = format!("{other:?}");
            text.split(['(', ' ']).next().unwrap_or_default().to_owned()
        }
    }
}
