//! The operations endpoints: `/healthz` (the process is up), `/readyz` (connected and
//! consuming: send traffic), `/metrics` (Prometheus text).

use std::sync::OnceLock;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

#[derive(Clone)]
struct OpsState {
    ready: watch::Receiver<bool>,
    metrics: PrometheusHandle,
}

pub(crate) fn router(ready: watch::Receiver<bool>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(OpsState {
            ready,
            metrics: metrics_handle(),
        })
}

async fn readyz(State(state): State<OpsState>) -> (StatusCode, Json<serde_json::Value>) {
    let consuming = *state.ready.borrow();
    metrics::gauge!("detour_service_ready").set(if consuming { 1.0 } else { 0.0 });
    let status = if consuming {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({ "ready": consuming, "consuming": consuming })),
    )
}

async fn metrics(State(state): State<OpsState>) -> String {
    metrics::gauge!("detour_service_up").set(1.0);
    metrics::gauge!("detour_service_ready").set(if *state.ready.borrow() { 1.0 } else { 0.0 });
    state.metrics.run_upkeep();
    state.metrics.render()
}

/// The process-wide Prometheus recorder, installed on first use (tests start several apps in
/// one process; a recorder can be installed once).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
