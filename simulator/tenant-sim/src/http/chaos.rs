//! Every request passes here first: an injected fault takes it if one matches, and Graph
//! requests spend resource units or get throttled, each API in its own words.

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::graph_error;
use crate::{
    app::Sim,
    faults::{Api, FaultKind, graph_cost},
};

pub(super) async fn chaos(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let Some(api) = Api::of(&path) else {
        return next.run(request).await;
    };
    let response = faulted(&sim, api, &path, request, next).await;
    sim.count_request(
        api.name(),
        response.status() == StatusCode::TOO_MANY_REQUESTS,
    );
    response
}

async fn faulted(sim: &Sim, api: Api, path: &str, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let fault = sim.faults().take(api, &method, path);
    match fault {
        Some(FaultKind::Throttle {
            retry_after_seconds,
        }) => return throttled(api, retry_after_seconds),
        Some(FaultKind::ServerError { status }) => return server_error(api, status),
        Some(FaultKind::Busy) => return busy(api),
        Some(FaultKind::Timeout) => return std::future::pending().await,
        Some(FaultKind::Delay { milliseconds }) => {
            tokio::time::sleep(Duration::from_millis(milliseconds)).await
        }
        None => {}
    }
    if api != Api::Graph || path == "/v1.0/$batch" {
        return next.run(request).await;
    }
    let cost = graph_cost(&method, path, request.uri().query().unwrap_or_default());
    if let Err(wait) = sim.spend_graph_units(cost) {
        let mut response = throttled(Api::Graph, wait.as_secs_f64().ceil() as u64);
        let headers = response.headers_mut();
        headers.insert(
            "x-ms-throttle-information",
            HeaderValue::from_static("ResourceUnitLimitExceeded"),
        );
        headers.insert(
            "x-ms-throttle-scope",
            HeaderValue::from_static("Tenant_Application/ReadWrite"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-ms-resource-unit", HeaderValue::from(cost));
    response
}

fn throttled(api: Api, retry_after_seconds: u64) -> Response {
    let mut response = match api {
        Api::Graph => graph_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests.", Vec::new()),
        Api::Token => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({ "error": "temporarily_unavailable", "error_description": "AADSTS50196: The server terminated an operation because it encountered a client request loop.", "error_codes": [50196] })),
        )
            .into_response(),
        _ => (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": { "code": "TooManyRequests", "message": "Too many requests." } }))).into_response(),
    };
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from(retry_after_seconds));
    response
}

fn server_error(api: Api, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match api {
        Api::Graph => graph_error(status, "serviceNotAvailable", "The service is temporarily unavailable.", Vec::new()),
        _ => (status, Json(json!({ "error": { "code": "ServiceUnavailable", "message": "The service is temporarily unavailable." } }))).into_response(),
    }
}

fn busy(api: Api) -> Response {
    match api {
        // Exchange's concurrency refusal arrives as plain text [S33].
        Api::Exchange => (
            StatusCode::TOO_MANY_REQUESTS,
            "You have reached the maximum number of concurrent requests per tenant. Please wait and try again.",
        )
            .into_response(),
        Api::Connect => (
            StatusCode::CONFLICT,
            Json(json!({ "code": "busy", "message": "System.InvalidOperationException: Connector: contoso.onmicrosoft.com - AAD is busy." })),
        )
            .into_response(),
        _ => server_error(api, 503),
    }
}
