//! The webhook endpoints: `POST /webhooks/jira`, `/webhooks/servicenow`, `/webhooks/generic`.
//! Each checks who is calling (401), reads at most `webhook.max_body_bytes` (413), parses
//! (400 with a JSON error saying what is wrong), refuses a delivery older than the replay
//! window by its body's timestamp, drops one it has taken before (Jira's
//! `X-Atlassian-Webhook-Identifier`, kept in `deliveries`), and answers 202 only once what it
//! asks is confirmed on the bus. Each webhook is the root of its remediation's trace.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
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
use futures_util::StreamExt;
use serde_json::json;
use tracing::Instrument;

use anyhow::Context;

use crate::{
    deliveries::Deliveries,
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
    deliveries: Deliveries,
    replay_window: time::Duration,
    max_body_bytes: usize,
}

/// How far ahead of this clock a body's timestamp may be (the source's clock runs ahead).
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

pub async fn router(settings: &GatewaySettings, publisher: Publisher) -> anyhow::Result<Router> {
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
        deliveries: Deliveries::open(
            &settings.webhook.deliveries_url,
            settings.webhook.replay_window(),
        )
        .await
        .context("webhook.deliveries_url")?,
        replay_window: settings.webhook.replay_window(),
        max_body_bytes: settings.webhook.max_body_bytes,
    };
    Ok(Router::new()
        .route("/webhooks/jira", post(jira_webhook))
        .route("/webhooks/servicenow", post(servicenow_webhook))
        .route("/webhooks/generic", post(generic_webhook))
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

/// How much of a body past `webhook.max_body_bytes` is read and thrown away so that the 413
/// goes out on a connection kept open for the sender's next request. A larger body gets its
/// 413 with `Connection: close` at once, unread (RFC 9112 section 9.6 lets a server close a
/// connection after a response when it will not read the rest of the request).
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// The body, at most `limit` bytes of it, or the answer to give instead.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = |close: bool| {
        let mut response = error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than webhook.max_body_bytes allows",
        );
        if close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    };
    let declared = header(headers, "content-length").and_then(|n| n.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(too_large(true));
    }
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|why| {
            error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {why}"),
            )
        })?;
        seen += chunk.len() as u64;
        if seen > DRAIN_LIMIT {
            return Err(too_large(true));
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(&chunk);
        } else if !kept.is_empty() {
            // Over the limit: read (and drop) the rest to the end, then answer 413.
            kept = Vec::new();
        }
    }
    if seen > limit as u64 {
        return Err(too_large(false));
    }
    Ok(Bytes::from(kept))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

async fn jira_webhook(
    State(webhooks): State<Webhooks>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(jira) = webhooks.jira.clone() else {
        return disabled("jira");
    };
    let body = match read_body(&headers, body, webhooks.max_body_bytes).await {
        Ok(body) => body,
        Err(answer) => return answer,
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
    body: Body,
) -> Response {
    let Some(servicenow) = webhooks.servicenow.clone() else {
        return disabled("servicenow");
    };
    let (settings, token) = &*servicenow;
    if let Err(why) = signature::verify_token(token, header(&headers, &settings.token_header)) {
        tracing::warn!(%why, "a ServiceNow webhook failed its token check");
        return error(StatusCode::UNAUTHORIZED, why.to_string());
    }
    let body = match read_body(&headers, body, webhooks.max_body_bytes).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let parsed = inbound::servicenow::parse(settings, &body);
    take(&webhooks, "servicenow", parsed, None).await
}

async fn generic_webhook(
    State(webhooks): State<Webhooks>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(token) = webhooks.generic.clone() else {
        return disabled("generic");
    };
    if let Err(why) = signature::verify_token(&token, header(&headers, "authorization")) {
        return error(StatusCode::UNAUTHORIZED, why.to_string());
    }
    let body = match read_body(&headers, body, webhooks.max_body_bytes).await {
        Ok(body) => body,
        Err(answer) => return answer,
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
    let now = time::OffsetDateTime::now_utc();
    if let Some(sent_at) = inbound.sent_at
        && (sent_at < now - webhooks.replay_window || sent_at > now + CLOCK_SKEW)
    {
        metrics::counter!("detour_webhooks_total", "source" => source, "outcome" => "stale")
            .increment(1);
        tracing::warn!(ticket = %inbound.ticket, %sent_at, "a delivery outside the replay window");
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "the event is dated {sent_at}, outside the replay window \
                 (webhook.replay_window_s back, 5 minutes ahead): refused as a replay"
            ),
        );
    }
    if let Some(id) = &delivery {
        match webhooks.deliveries.first_time(id, now).await {
            Ok(true) => {}
            Ok(false) => {
                metrics::counter!("detour_webhooks_total", "source" => source, "outcome" => "duplicate")
                    .increment(1);
                return accepted("duplicate", &inbound, json!({ "delivery": id }));
            }
            Err(why) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot check the delivery against those taken, try again: {why}"),
                );
            }
        }
    }
    let span = tracing::info_span!(
        "webhook",
        "detour.ticket" = %inbound.ticket,
        "detour.step" = "webhook",
        "detour.source" = source,
        "otel.kind" = "server",
    );
    let response = act(webhooks, &inbound).instrument(span).await;
    if let (Err(_), Some(id)) = (&response, &delivery)
        && let Err(why) = webhooks.deliveries.forget(id).await
    {
        // Jira's retry will be taken for a duplicate: say so, loudly.
        tracing::error!(delivery = %id, error = %why, "a delivery not taken could not be forgotten");
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
