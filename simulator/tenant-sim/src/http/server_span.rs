//! A server span around every request, continuing the caller's trace when the request carries
//! W3C trace context: a remediation's trace then shows each Graph, Exchange and ticket call
//! it made, with the status the simulated cloud answered.

use std::collections::HashMap;

use axum::{extract::Request, middleware::Next, response::Response};
use tracing::{Instrument, field::Empty};

pub(super) async fn server_span(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        "otel.name" = format!("{method} {path}"),
        "otel.kind" = "server",
        "http.request.method" = %method,
        "url.path" = %path,
        "http.response.status_code" = Empty,
    );
    let context: HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| {
            let value = request.headers().get(name)?.to_str().ok()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect();
    detour_telemetry::set_remote_parent(&span, &context);
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}
