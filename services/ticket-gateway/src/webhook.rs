//! The webhook endpoints: `POST /webhooks/jira`, `/webhooks/servicenow`, `/webhooks/generic`.
//! Each checks who is calling (401), reads at most `webhook.max_body_bytes` (413), parses
//! (400 with a JSON error saying what is wrong), drops a delivery it has seen (Jira's
//! `X-Atlassian-Webhook-Identifier`), and answers 202 only once what it asks is confirmed on
//! the bus. Each webhook is the root of its remediation's trace.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use detour_bus::Publisher;
use detour_config::Secret;
use detour_contracts::{
    Envelope,
    saga_coordinator::{ApproveRemediation, StartRemediation},
    ticket_gateway::PostTicketNote,
};
use serde_json::json;
use tracing::Instrument;

use crate::{
    inbound::{self, Inbound, Malformed, Request, signature},
    settings::{GatewaySettings, JiraSettings, ServiceNowSettings},
};

/// Jira's id for one delivery, the same on each retry of it.
const JIRA_DELIVERY: &str = "x-atlassian-webhook-identifier";
const JIRA_SIGNATURE: &str = "x-hub-signature";

#[derive(Clone)]
struct Webhooks {
    publisher: Publisher,
    jira: Option<Arc<(JiraSettings, Secret)>>,
    servicenow: Option<Arc<(ServiceNowSettings, Secret)>>,
    generic: Option<Secret>,
    seen: Arc<Seen>,
}

pub fn router(settings: &GatewaySettings, publisher: Publisher) -> anyhow::Result<Router> {
    let jira = match settings.jira.enabled {
        true => Some(Arc::new((
            settings.jira.clone(),
            settings.jira.webhook_secret()?,
        ))),
        false => None,
    };
    let servicenow = match settings.servicenow.enabled {
        true => Some(Arc::new((
            settings.servicenow.clone(),
            settings.servicenow.webhook_token()?,
        ))),
        false => None,
    };
    let generic = match settings.generic.enabled {
        true => Some(settings.generic.token()?),
        false => None,
    };
    let webhooks = Webhooks {
        publisher,
        jira,
        servicenow,
        generic,
        seen: Arc::new(Seen::new(settings.webhook.remembered_deliveries)),
    };
    Ok(Router::new()
        .route("/webhooks/jira", post(jira_webhook))
        .route("/webhooks/servicenow", post(servicenow_webhook))
        .route("/webhooks/generic", post(generic_webhook))
        .layer(DefaultBodyLimit::max(settings.webhook.max_body_bytes))
        .with_state(webhooks))
}

/// A webhook refused, with the status and a message saying why (as JSON).
#[derive(Debug)]
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    Refused(status, message.into()).into_response()
}

fn disabled(source: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("the {source} webhook is not enabled on this gateway"),
    )
}

/// The body, or why it cannot be had (too large, cut short).
fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refused> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the body is larger than webhook.max_body_bytes allows".to_owned()
        } else {
            format!("cannot read the body: {rejection}")
        };
        Refused(status, message)
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn jira_webhook(
    State(webhooks): State<Webhooks>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(jira) = webhooks.jira.clone() else {
        return disabled("jira");
    };
    let body = match body_or_error(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let (settings, secret) = &*jira;
    if let Err(why) =
        signature::verify_hub_signature(secret, &body, header(&headers, JIRA_SIGNATURE))
    {
        tracing::warn!(%why, "a Jira webhook failed its signature check");
        return error(StatusCode::UNAUTHORIZED, why.to_string());
    }
    let delivery = header(&headers, JIRA_DELIVERY).map(str::to_owned);
    let parsed = inbound::jira::parse(settings, &body);
    take(&webhooks, "jira", parsed, delivery).await
}

async fn servicenow_webhook(
    State(webhooks): State<Webhooks>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(servicenow) = webhooks.servicenow.clone() else {
        return disabled("servicenow");
    };
    let (settings, token) = &*servicenow;
    if let Err(why) = signature::verify_token(token, header(&headers, &settings.token_header)) {
        tracing::warn!(%why, "a ServiceNow webhook failed its token check");
        return error(StatusCode::UNAUTHORIZED, why.to_string());
    }
    let body = match body_or_error(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let parsed = inbound::servicenow::parse(settings, &body);
    take(&webhooks, "servicenow", parsed, None).await
}

async fn generic_webhook(
    State(webhooks): State<Webhooks>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(token) = webhooks.generic.clone() else {
        return disabled("generic");
    };
    if let Err(why) = signature::verify_token(&token, header(&headers, "authorization")) {
        return error(StatusCode::UNAUTHORIZED, why.to_string());
    }
    let body = match body_or_error(body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    take(&webhooks, "generic", inbound::generic::parse(&body), None).await
}

/// Acts on a parsed webhook under a span that roots its remediation's trace.
async fn take(
    webhooks: &Webhooks,
    source: &'static str,
    parsed: Result<Inbound, Malformed>,
    delivery: Option<String>,
) -> Response {
    let inbound = match parsed {
        Ok(inbound) => inbound,
        Err(Malformed(why)) => {
            metrics::counter!("detour_webhooks_total", "source" => source, "outcome" => "malformed")
                .increment(1);
            return error(StatusCode::BAD_REQUEST, why);
        }
    };
    if let Some(id) = &delivery
        && !webhooks.seen.first_time(id)
    {
        metrics::counter!("detour_webhooks_total", "source" => source, "outcome" => "duplicate")
            .increment(1);
        return accepted("duplicate", &inbound, json!({ "delivery": id }));
    }
    let span = tracing::info_span!(
        "webhook",
        "detour.ticket" = %inbound.ticket,
        "detour.step" = "webhook",
        "detour.source" = source,
        "otel.kind" = "server",
    );
    let response = act(webhooks, &inbound).instrument(span).await;
    if let (Err(_), Some(id)) = (&response, &delivery) {
        // Not taken: Jira's retry of it must be let through.
        webhooks.seen.forget(id);
    }
    let outcome = if response.is_ok() {
        "accepted"
    } else {
        "failed"
    };
    metrics::counter!("detour_webhooks_total", "source" => source, "outcome" => outcome)
        .increment(1);
    response.unwrap_or_else(IntoResponse::into_response)
}

async fn act(webhooks: &Webhooks, inbound: &Inbound) -> Result<Response, Refused> {
    let trace_id = detour_telemetry::current_trace_id();
    let ticket = inbound.ticket.clone();
    let published = match &inbound.request {
        Request::Ignore { reason } => {
            return Ok(accepted("ignored", inbound, json!({ "reason": reason })));
        }
        Request::Decline { reason } => {
            let note = PostTicketNote {
                key: "declined".into(),
                lines: vec![reason.clone()],
            };
            let envelope = Envelope::new(note).with_ticket(ticket);
            let sent = webhooks.publisher.publish(&envelope).await;
            sent.map(|()| accepted("declined", inbound, json!({ "reason": reason })))
        }
        Request::Start { user, dry_run } => {
            let start = StartRemediation {
                user: user.to_string(),
                dry_run: *dry_run,
            };
            let sent = webhooks
                .publisher
                .publish(&Envelope::new(start).with_ticket(ticket))
                .await;
            sent.map(|()| {
                accepted(
                    "accepted",
                    inbound,
                    json!({ "user": user, "dry_run": dry_run, "trace_id": trace_id }),
                )
            })
        }
        Request::Approve { by } => {
            let approve = ApproveRemediation {
                approved_by: by.clone(),
            };
            let sent = webhooks
                .publisher
                .publish(&Envelope::new(approve).with_ticket(ticket))
                .await;
            sent.map(|()| accepted("approval-sent", inbound, json!({ "approved_by": by })))
        }
    };
    published.map_err(|why| {
        tracing::error!(error = %why, "a webhook could not be passed on");
        Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request could not be queued, try again: {why}"),
        )
    })
}

fn accepted(status: &str, inbound: &Inbound, mut extra: serde_json::Value) -> Response {
    extra["status"] = json!(status);
    extra["ticket"] = json!(inbound.ticket.to_string());
    (StatusCode::ACCEPTED, Json(extra)).into_response()
}

/// The delivery ids seen lately, oldest forgotten first.
#[derive(Debug)]
struct Seen {
    capacity: usize,
    ids: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Seen {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ids: Mutex::default(),
        }
    }

    /// Records `id`; false if it was recorded already.
    fn first_time(&self, id: &str) -> bool {
        let mut guard = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(id.to_owned()) {
            return false;
        }
        order.push_back(id.to_owned());
        while order.len() > self.capacity {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
        true
    }

    fn forget(&self, id: &str) {
        let mut guard = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        set.remove(id);
        order.retain(|seen| seen != id);
    }
}

#[cfg(test)]
mod tests {
    use super::Seen;

    #[test]
    fn a_delivery_is_new_once_until_forgotten_or_crowded_out() {
        let seen = Seen::new(2);
        assert!(seen.first_time("a"));
        assert!(!seen.first_time("a"));
        seen.forget("a");
        assert!(seen.first_time("a"));
        assert!(seen.first_time("b"));
        assert!(seen.first_time("c"));
        assert!(seen.first_time("a"), "the oldest was crowded out");
    }
}
