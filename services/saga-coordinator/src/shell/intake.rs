//! What the coordinator's queue delivers: requests to remediate a user (the ticket gateway's
//! `start-remediation`) or to approve a ticket's plan (`approve-remediation`), and answers from
//! the step services, matched to the command they answer by their causation id. The queue
//! binds nothing else, so any other type is misrouted and dead-lettered with the reason; an
//! answer to a command this coordinator never sent is logged and acked.

use std::collections::BTreeMap;

use detour_bus::{Incoming, Outcome, Publisher};
use detour_contracts::{
    Envelope, Message,
    saga_coordinator::{
        ApproveRemediation, RemediationAccepted, RemediationRejected, StartRemediation,
    },
};

use super::{
    engine::{Delivery, Engine, EngineError, StartRequest, Started},
    timeline::purpose_label,
    wire,
};
use crate::saga::{Event, Purpose};

pub async fn handle(engine: &Engine, publisher: &Publisher, incoming: Incoming) -> Outcome {
    match incoming.message_type.as_deref() {
        Some(StartRemediation::NAME) => return start(engine, publisher, &incoming).await,
        Some(ApproveRemediation::NAME) => return approve(engine, &incoming).await,
        _ => {}
    }
    let (header, answer) = match wire::decode(&incoming) {
        Ok(Some(decoded)) => decoded,
        Ok(None) => {
            return Outcome::Reject(format!(
                "saga-coordinator does not handle {} ({} on {}): misrouted",
                incoming
                    .message_type
                    .as_deref()
                    .unwrap_or("untyped messages"),
                incoming.routing_key,
                incoming.exchange,
            ));
        }
        Err(error) => return Outcome::Reject(format!("cannot read the answer: {error}")),
    };
    let Some(causation) = header.causation_id else {
        return Outcome::Reject(format!(
            "a {} with no causation id answers nothing",
            header.message_type
        ));
    };
    let (saga_id, purpose) = match engine.purpose_of(&causation.to_string()).await {
        Ok(Some((saga_id, Some(purpose)))) => (saga_id, purpose),
        // Another coordinator's command (a second deployment on the same broker), or one
        // whose records were purged: nothing here to move.
        Ok(_) => {
            tracing::info!(message_type = %header.message_type, %causation,
                "an answer to a command this coordinator did not send; ignored");
            return Outcome::Handled;
        }
        Err(error) => return Outcome::Retry(format!("the store is unavailable: {error}")),
    };
    if purpose == Purpose::Lease {
        return match engine
            .lease_answered(
                &causation.to_string(),
                &header.message_id.to_string(),
                &answer,
            )
            .await
        {
            Ok(()) => Outcome::Handled,
            Err(error) => Outcome::Retry(error.to_string()),
        };
    }
    let span = tracing::Span::current();
    span.record("detour.saga_id", saga_id.to_string());
    span.record("detour.step", purpose_label(&purpose));
    if let Some(ticket) = &header.ticket {
        span.record("detour.ticket", ticket.to_string());
    }
    let delivery = Delivery {
        saga_id,
        message_id: header.message_id.to_string(),
        event: Event::Answered { purpose, answer },
        causation: Some(header.message_id),
        fired_timer: None,
    };
    match engine.handle(delivery).await {
        Ok(_) | Err(EngineError::NotFound(_)) => Outcome::Handled,
        Err(error @ (EngineError::Invalid(_) | EngineError::Contract(_))) => {
            Outcome::Reject(error.to_string())
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}

/// Takes on a remediation asked for over the bus, in the trace of the request, and answers
/// with the saga's id (or why not). A redelivered request joins the saga it started.
async fn start(engine: &Engine, publisher: &Publisher, incoming: &Incoming) -> Outcome {
    let request = match incoming.decode::<StartRemediation>() {
        Ok(request) => request,
        Err(error) => return Outcome::Reject(format!("cannot read the request: {error}")),
    };
    detour_service::record_envelope(&request);
    let trace_context: BTreeMap<String, String> =
        detour_telemetry::inject_trace_context(&tracing::Span::current())
            .into_iter()
            .collect();
    let started = engine
        .start(StartRequest {
            user: request.payload.user.clone(),
            ticket: request.ticket.clone(),
            dry_run: request.payload.dry_run,
            trace_context,
        })
        .await;
    let user = request.payload.user.clone();
    let published = match started {
        Ok(Started::New(saga_id) | Started::Joined(saga_id)) => {
            tracing::Span::current().record("detour.saga_id", saga_id.to_string());
            let joined = matches!(started, Ok(Started::Joined(_)));
            // A joined remediation reports to the ticket that started it.
            let reports_to = match joined {
                false => request.ticket.clone(),
                true => match engine.store().load(saga_id).await {
                    Ok(saga) => saga.and_then(|saga| saga.record.ticket),
                    Err(error) => return Outcome::Retry(error.to_string()),
                },
            };
            let accepted = RemediationAccepted {
                saga_id,
                user,
                joined,
                reports_to,
            };
            publisher
                .publish(&Envelope::caused_by(accepted, &request).with_saga(saga_id))
                .await
        }
        Err(EngineError::Invalid(reason)) => {
            let rejected = RemediationRejected { user, reason };
            publisher
                .publish(&Envelope::caused_by(rejected, &request))
                .await
        }
        Err(error) => return Outcome::Retry(error.to_string()),
    };
    match published {
        Ok(()) => Outcome::Handled,
        Err(error) => Outcome::Retry(format!("the answer was not confirmed: {error}")),
    }
}

/// Approves the plan the ticket's remediation awaits. An approval with nothing awaiting it
/// (the ticket moved through its approval state again, or before diagnosis ended) is only
/// logged.
async fn approve(engine: &Engine, incoming: &Incoming) -> Outcome {
    let request = match incoming.decode::<ApproveRemediation>() {
        Ok(request) => request,
        Err(error) => return Outcome::Reject(format!("cannot read the approval: {error}")),
    };
    detour_service::record_envelope(&request);
    let Some(ticket) = &request.ticket else {
        return Outcome::Reject("an approval names its ticket in the envelope".into());
    };
    match engine
        .approve_for_ticket(ticket, &request.payload.approved_by)
        .await
    {
        Ok(Some(saga_id)) => {
            tracing::info!(%saga_id, %ticket, "approved from the ticket");
            Outcome::Handled
        }
        Ok(None) => {
            tracing::info!(%ticket, "an approval with no plan awaiting it");
            Outcome::Handled
        }
        Err(error @ EngineError::Invalid(_)) => Outcome::Reject(error.to_string()),
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
