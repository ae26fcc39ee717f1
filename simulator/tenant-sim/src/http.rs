//! One HTTP server, paths as the real services use them, so a client only swaps its base URL.
//! Each API renders errors in its own real shape.

// Handlers return a finished error response early; its size does not matter off the hot path.
#![allow(
    clippy::result_large_err,
    reason = "early-return error responses in handlers"
)]

mod admin;
mod adsync;
mod chaos;
mod connect;
mod exchange;
mod graph;
mod server_span;
mod tickets;
mod tls;
mod token;

pub use tls::{serve_tls, server_config};

use std::sync::Arc;

use axum::{
    Json, Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::app::{NoScenario, Resource, Sim};

/// Every API behind the fault and throttling layer; `$batch` replays its requests through that
/// same stack; the admin API stays outside it.
pub fn router(sim: Arc<Sim>) -> Router {
    let apis = Router::new()
        .merge(token::routes())
        .merge(graph::routes())
        .merge(exchange::routes())
        .merge(connect::routes())
        .merge(adsync::routes())
        .merge(tickets::routes())
        .with_state(sim.clone())
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            chaos::chaos,
        ));
    let batch = graph::batch::routes(apis.clone(), sim.clone());
    Router::new()
        .merge(apis)
        .merge(batch)
        .merge(admin::routes().with_state(sim))
        .layer(axum::middleware::from_fn(server_span::server_span))
}

/// Serves every API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: Arc<Sim>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(sim))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Checks `Authorization: Bearer` for `resource`; the error names what is wrong with it.
fn authorize(sim: &Sim, headers: &HeaderMap, resource: Resource) -> Result<(), &'static str> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or("Access token is empty.")?;
    let credentials = sim.credentials();
    let issued = credentials
        .tokens
        .get(token.trim())
        .ok_or("Access token validation failure. Invalid signature.")?;
    if issued.expires <= sim.clock.now() {
        return Err("Access token has expired or is not yet valid.");
    }
    if issued.resource != resource {
        return Err("Access token validation failure. Invalid audience.");
    }
    Ok(())
}

/// Graph's error body [S10]: branch on `code`, never on `message`.
fn graph_error(status: StatusCode, code: &str, message: &str, details: Vec<Value>) -> Response {
    let now = time::OffsetDateTime::now_utc();
    let date = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut error = json!({
        "code": code,
        "message": message,
        "innerError": {
            "date": date,
            "request-id": uuid::Uuid::new_v4(),
            "client-request-id": uuid::Uuid::new_v4(),
        }
    });
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn no_scenario(_: NoScenario) -> Response {
    graph_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        &NoScenario.to_string(),
        Vec::new(),
    )
}

/// The simulator's own address as the client reached it: scheme (https behind the TLS
/// listener) and host.
fn base_url(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{}", header("host").unwrap_or("localhost"))
}

fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
