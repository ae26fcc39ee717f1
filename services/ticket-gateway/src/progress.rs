//! What the gateway's queue delivers, written to tickets: the coordinator's progress events
//! and refusals, and the gateway's own notes. A write the ticket system refuses is
//! dead-lettered with the reason; one it could not take now is retried through the bus.

use detour_bus::Outcome;
use detour_contracts::{
    Envelope, Message, TicketRef,
    saga_coordinator::{RemediationAccepted, RemediationProgress, RemediationRejected},
    ticket_gateway::PostTicketNote,
};
use detour_service::{Dispatch, HandlerContext};

use crate::outbound::{FollowUp, Note, WriteError, Writers, render};

pub fn dispatch(writers: Writers) -> Dispatch {
    let (on_progress, on_rejected, on_accepted, on_note) =
        (writers.clone(), writers.clone(), writers.clone(), writers);
    Dispatch::new(detour_contracts::Service::TicketGateway)
        .on::<RemediationProgress, _, _>(move |event, _: HandlerContext| {
            let writers = on_progress.clone();
            async move {
                let (note, follow_up) = render::progress(&event.payload);
                write(&writers, &event, &note, follow_up).await
            }
        })
        .on::<RemediationRejected, _, _>(move |event, _| {
            let writers = on_rejected.clone();
            async move {
                let request = event.causation_id.unwrap_or(event.message_id);
                let note = render::rejected(&event.payload, &request.to_string());
                write(&writers, &event, &note, FollowUp::Nothing).await
            }
        })
        .on::<RemediationAccepted, _, _>(move |event, _| {
            let writers = on_accepted.clone();
            async move {
                let accepted = &event.payload;
                tracing::info!(saga_id = %accepted.saga_id, joined = accepted.joined,
                    "the coordinator took the request on");
                match render::joined_elsewhere(accepted, event.ticket.as_ref()) {
                    Some(note) => write(&writers, &event, &note, FollowUp::Nothing).await,
                    None => Outcome::Handled,
                }
            }
        })
        .on::<PostTicketNote, _, _>(move |command, _| {
            let writers = on_note.clone();
            async move {
                let note = render::note(&command.payload.key, &command.payload.lines);
                write(&writers, &command, &note, FollowUp::Nothing).await
            }
        })
}

async fn write<M: Message>(
    writers: &Writers,
    envelope: &Envelope<M>,
    note: &Note,
    follow_up: FollowUp,
) -> Outcome {
    let Some(ticket): Option<&TicketRef> = envelope.ticket.as_ref() else {
        tracing::warn!(message_type = M::NAME, "no ticket to write to");
        return Outcome::Handled;
    };
    match writers.write(ticket, note, follow_up).await {
        Ok(()) => {
            metrics::counter!("detour_ticket_writes_total", "outcome" => "written").increment(1);
            Outcome::Handled
        }
        Err(WriteError::Transient(reason)) => {
            metrics::counter!("detour_ticket_writes_total", "outcome" => "retried").increment(1);
            Outcome::Retry(format!("{ticket}: {reason}"))
        }
        Err(WriteError::Refused(reason)) => {
            metrics::counter!("detour_ticket_writes_total", "outcome" => "refused").increment(1);
            Outcome::Reject(format!("{ticket}: {reason}"))
        }
    }
}
