//! What a ticket is told, as text: a remediation's milestones, and the gateway's own notes.
//! Each note ends with a marker line that names it, which is how a repeat is recognised.

use detour_contracts::{
    TicketRef,
    saga_coordinator::{
        Outcome, RemediationAccepted, RemediationProgress, RemediationRejected, Stage,
    },
};

/// A comment for a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Unique on its ticket; the last line of the comment.
    pub marker: String,
    /// The comment, line by line (the marker included).
    pub lines: Vec<String>,
}

/// What the ticket's workflow does after the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    Nothing,
    /// Work has started (the plan is under way).
    Start,
    /// Done: resolve the ticket.
    Resolve,
    /// A person is needed.
    Escalate,
}

pub fn progress(event: &RemediationProgress) -> (Note, FollowUp) {
    let mut lines = vec![event.headline.clone()];
    lines.extend(event.details.iter().cloned());
    let follow_up = match event.stage {
        Stage::Diagnosed => FollowUp::Start,
        Stage::NeedsAttention => FollowUp::Escalate,
        Stage::Final(outcome) if outcome.is_success() => FollowUp::Resolve,
        _ => FollowUp::Nothing,
    };
    if let Stage::Final(outcome) = event.stage {
        lines.push(format!("Outcome: {}.", outcome_word(outcome)));
    }
    if matches!(event.stage, Stage::Final(_) | Stage::NeedsAttention) {
        lines.push(format!("Saga: {}", event.saga_id));
        if let Some(trace_id) = &event.trace_id {
            lines.push(format!("Trace: {trace_id}"));
        }
    }
    let marker = marker(&format!("{}/{}", event.saga_id, event.milestone));
    lines.push(marker.clone());
    (Note { marker, lines }, follow_up)
}

/// One of the gateway's own notes (`key` unique on its ticket).
pub fn note(key: &str, lines: &[String]) -> Note {
    let marker = marker(&format!("note/{key}"));
    let mut lines = lines.to_vec();
    lines.push(marker.clone());
    Note { marker, lines }
}

/// Why a request (`request`, its message id) was not taken on.
pub fn rejected(rejection: &RemediationRejected, request: &str) -> Note {
    let line = format!(
        "Detour cannot take this on: {}. Nothing will happen.",
        rejection.reason
    );
    note(&format!("rejected/{request}"), &[line])
}

/// For a ticket whose request joined a remediation another ticket started: where its
/// progress goes. `None` when it reports to this ticket (a redelivery) or nothing was joined.
pub fn joined_elsewhere(
    accepted: &RemediationAccepted,
    ticket: Option<&TicketRef>,
) -> Option<Note> {
    let elsewhere = accepted
        .reports_to
        .as_ref()
        .filter(|to| Some(*to) != ticket);
    if !accepted.joined || ticket.is_none() {
        return None;
    }
    let lines = match elsewhere {
        Some(to) => format!(
            "Detour is already remediating {} for {to}; that ticket carries its progress and \
             outcome. Nothing more is started for this one. Saga: {}",
            accepted.user, accepted.saga_id
        ),
        None if accepted.reports_to.is_none() => format!(
            "Detour is already remediating {} (saga {}); nothing more is started for this ticket.",
            accepted.user, accepted.saga_id
        ),
        None => return None,
    };
    Some(note(&format!("joined/{}", accepted.saga_id), &[lines]))
}

fn marker(reference: &str) -> String {
    format!("detour-ref: {reference}")
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Fixed => "fixed",
        Outcome::NothingToDo => "nothing to do",
        Outcome::Planned => "planned (dry run, nothing changed)",
        Outcome::Refused => "refused (nothing changed)",
        Outcome::Undiagnosable => "not diagnosed (nothing changed)",
        Outcome::Compensated => "not fixed; undone, the user is back as before",
        Outcome::Resolved => "resolved by an operator",
    }
}

#[cfg(test)]
mod tests {
    use detour_contracts::SagaId;

    use super::*;

    fn event(milestone: &str, stage: Stage) -> RemediationProgress {
        RemediationProgress {
            saga_id: SagaId::new(),
            user: "ada@contoso.com".into(),
            milestone: milestone.into(),
            stage,
            headline: "Fixed.".into(),
            details: vec!["+ smtp:ada@contoso.mail.onmicrosoft.com".into()],
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        }
    }

    #[test]
    fn the_final_word_says_outcome_saga_and_trace_and_resolves() {
        let event = event("final", Stage::Final(Outcome::Fixed));
        let (note, follow_up) = progress(&event);
        assert_eq!(follow_up, FollowUp::Resolve);
        let text = note.lines.join("\n");
        assert!(text.contains("Outcome: fixed."), "{text}");
        assert!(text.contains(&format!("Saga: {}", event.saga_id)), "{text}");
        assert!(
            text.contains("Trace: 4bf92f3577b34da6a3ce929d0e0e4736"),
            "{text}"
        );
        assert_eq!(note.lines.last(), Some(&note.marker));
        assert!(note.marker.ends_with(&format!("{}/final", event.saga_id)));
    }

    #[test]
    fn a_refusal_is_final_but_does_not_resolve() {
        let (_, follow_up) = progress(&event("final", Stage::Final(Outcome::Refused)));
        assert_eq!(follow_up, FollowUp::Nothing);
        let (_, escalate) = progress(&event("needs-attention:0:5", Stage::NeedsAttention));
        assert_eq!(escalate, FollowUp::Escalate);
    }

    #[test]
    fn a_join_is_told_only_to_another_ticket() {
        let ticket = |key: &str| TicketRef {
            system: detour_contracts::TicketSystem::Jira,
            key: key.into(),
        };
        let accepted = RemediationAccepted {
            saga_id: SagaId::new(),
            user: "ada@contoso.com".into(),
            joined: true,
            reports_to: Some(ticket("HELP-1")),
        };
        let note = joined_elsewhere(&accepted, Some(&ticket("HELP-2"))).unwrap();
        assert!(note.lines[0].contains("for jira:HELP-1"), "{note:?}");
        assert_eq!(joined_elsewhere(&accepted, Some(&ticket("HELP-1"))), None);
        let fresh = RemediationAccepted {
            joined: false,
            ..accepted
        };
        assert_eq!(joined_elsewhere(&fresh, Some(&ticket("HELP-2"))), None);
    }

    #[test]
    fn a_phase_is_one_short_comment() {
        let (note, follow_up) = progress(&event("step:restored", Stage::Phase));
        assert_eq!(follow_up, FollowUp::Nothing);
        assert!(!note.lines.iter().any(|l| l.starts_with("Saga:")));
    }
}
