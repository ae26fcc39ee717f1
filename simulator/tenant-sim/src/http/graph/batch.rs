//! `POST /v1.0/$batch` [S8]: at most 20 requests, unique ids, a Content-Type with every body;
//! each request runs through the same stack as a lone one (so it is throttled and faulted on
//! its own), in order; a request whose dependency failed answers 424.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::{bad_request, guard};
use crate::{app::Sim, http::graph_error};

const MAX_REQUESTS: usize = 20;

#[derive(Clone)]
struct BatchState {
    sim: Arc<Sim>,
    apis: Router,
}

pub(in crate::http) fn routes(apis: Router, sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v1.0/$batch", post(batch))
        .with_state(BatchState { sim, apis })
}

/// Graph reads these fields and ignores any other, as it does in every request body: the
/// Python SDK's `depends_on` (snake case) is such a field, so its dependency is not honoured
/// by Graph and is not here either; `dependsOn` is.
#[derive(Deserialize)]
struct Batch {
    requests: Vec<BatchRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRequest {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: Map<String, Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    depends_on: Vec<String>,
}

async fn batch(State(state): State<BatchState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(response) = guard(&state.sim, &headers) {
        return response;
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(error) => return bad_request(&format!("Invalid batch payload: {error}")),
    };
    if let Err(problem) = validate(&batch) {
        return graph_error(StatusCode::BAD_REQUEST, "BadRequest", &problem, Vec::new());
    }
    let authorization = headers.get("authorization").cloned();
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for request in batch.requests {
        let failed = request
            .depends_on
            .iter()
            .any(|d| statuses.get(d).is_none_or(|s| *s >= 400));
        let (status, headers, body) = if failed {
            let error = json!({ "error": { "code": "FailedDependency", "message": "A request this one depends on failed." } });
            (424, Map::new(), error)
        } else {
            run(&state.apis, &request, authorization.clone()).await
        };
        statuses.insert(request.id.clone(), status);
        responses
            .push(json!({ "id": request.id, "status": status, "headers": headers, "body": body }));
    }
    Json(json!({ "responses": responses })).into_response()
}

fn validate(batch: &Batch) -> Result<(), String> {
    if batch.requests.len() > MAX_REQUESTS {
        return Err(format!(
            "A batch holds at most {MAX_REQUESTS} requests; this one has {}.",
            batch.requests.len()
        ));
    }
    let mut seen = Vec::new();
    for request in &batch.requests {
        if seen.contains(&request.id.as_str()) {
            return Err(format!(
                "Batch request ids must be unique; '{}' repeats.",
                request.id
            ));
        }
        seen.push(&request.id);
        if request.body.is_some()
            && !request
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            return Err(format!(
                "Request '{}' has a body but no Content-Type header.",
                request.id
            ));
        }
    }
    for request in &batch.requests {
        if let Some(missing) = request
            .depends_on
            .iter()
            .find(|d| !seen.contains(&d.as_str()))
        {
            return Err(format!(
                "Request '{}' depends on unknown request '{missing}'.",
                request.id
            ));
        }
    }
    Ok(())
}

async fn run(
    apis: &Router,
    request: &BatchRequest,
    authorization: Option<axum::http::HeaderValue>,
) -> (u16, Map<String, Value>, Value) {
    let path = format!("/v1.0/{}", request.url.trim_start_matches('/'));
    let mut builder = Request::builder()
        .method(request.method.to_uppercase().as_str())
        .uri(path);
    if let Some(authorization) = authorization {
        builder = builder.header("authorization", authorization);
    }
    for (name, value) in &request.headers {
        if let Some(value) = value.as_str() {
            builder = builder.header(name.as_str(), value);
        }
    }
    let body = request
        .body
        .as_ref()
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let Ok(inner) = builder.body(body) else {
        return (
            400,
            Map::new(),
            json!({ "error": { "code": "BadRequest", "message": "Invalid request in batch." } }),
        );
    };
    let Ok(response) = apis.clone().oneshot(inner).await;
    let status = response.status().as_u16();
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .filter(|(name, _)| {
            ["retry-after", "content-type", "x-ms-resource-unit"].contains(&name.as_str())
        })
        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or_default())))
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}
