//! The operator API (HTTP, JSON, on the ops port under `/api/v1`): start a remediation or a
//! dry run, list and count sagas, show one with its timeline, approve, abort, retry and resolve.
//! Every error is JSON saying what is wrong; nothing here changes a saga except through the
//! engine.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, Query, Request, State, rejection::JsonRejection},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use detour_config::Secret;
use detour_contracts::{SagaId, TicketRef};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    saga::{Input, Phase, PlanHash, State as SagaState},
    shell::{Engine, EngineError, StartRequest, Started},
    store::{Filter, LogEntry, SagaRecord, Summary},
};

/// Requests are small; anything bigger is a mistake or an attack.
const BODY_LIMIT: usize = 64 * 1024;

/// The API's routes; with a `token`, every request must carry it as a bearer token.
pub fn router(engine: Engine, token: Option<Secret>) -> Router {
    let routes = Router::new()
        .route("/api/v1/sagas", post(start).get(list))
        .route("/api/v1/counts", get(counts))
        .route("/api/v1/takeover-lease", get(takeover_lease))
        .route("/api/v1/sagas/{id}", get(show))
        .route("/api/v1/sagas/{id}/approve", post(approve))
        .route("/api/v1/sagas/{id}/abort", post(abort))
        .route("/api/v1/sagas/{id}/retry", post(retry))
        .route("/api/v1/sagas/{id}/resolve", post(resolve))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(engine);
    match token {
        Some(token) => routes.layer(middleware::from_fn_with_state(Arc::new(token), authorize)),
        None => routes,
    }
}

/// Lets a request through only with `Authorization: Bearer <token>`, compared in constant
/// time.
async fn authorize(State(token): State<Arc<Secret>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if token.matches(presented.as_bytes()) {
        next.run(request).await
    } else {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "the operator API needs its bearer token (detourctl --token or DETOUR_API_TOKEN)"
                .into(),
        )
        .into_response()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    pub user: String,
    #[serde(default)]
    pub ticket: Option<TicketRef>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StartReply {
    pub saga_id: SagaId,
    /// The user already had a remediation running: this is it.
    pub joined: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SagaView {
    pub saga: SagaRecord,
    pub status: String,
    pub version: i64,
    /// The hash an approval must name, while one is awaited.
    pub plan_hash: Option<PlanHash>,
    pub timeline: Vec<LogEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    pub plan_hash: PlanHash,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    pub note: String,
}

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let status = match &error {
            EngineError::Invalid(_) => StatusCode::BAD_REQUEST,
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Contended(_) | EngineError::LeaseContended => StatusCode::CONFLICT,
            EngineError::Store(_) | EngineError::Contract(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self(status, error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self(rejection.status(), rejection.body_text())
    }
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::CONFLICT, message.into())
}

fn saga_id(text: &str) -> Result<SagaId, ApiError> {
    text.parse::<uuid::Uuid>().map(SagaId::from).map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("{text:?} is not a saga id"),
        )
    })
}

async fn start(
    State(engine): State<Engine>,
    body: Result<Json<StartBody>, JsonRejection>,
) -> Result<(StatusCode, Json<StartReply>), ApiError> {
    let Json(body) = body?;
    let span = tracing::info_span!(
        "remediation",
        "otel.kind" = "server",
        "detour.saga_id" = tracing::field::Empty,
        "detour.ticket" = body
            .ticket
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        "detour.dry_run" = body.dry_run,
    );
    let trace_context: BTreeMap<String, String> = detour_telemetry::inject_trace_context(&span)
        .into_iter()
        .collect();
    let started = engine
        .start(StartRequest {
            user: body.user,
            ticket: body.ticket,
            dry_run: body.dry_run,
            trace_context,
        })
        .await?;
    let (status, saga_id, joined) = match started {
        Started::New(id) => (StatusCode::CREATED, id, false),
        Started::Joined(id) => (StatusCode::OK, id, true),
    };
    span.record("detour.saga_id", saga_id.to_string());
    Ok((status, Json(StartReply { saga_id, joined })))
}

async fn list(
    State(engine): State<Engine>,
    Query(filter): Query<Filter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sagas: Vec<Summary> = engine
        .store()
        .list(&filter)
        .await
        .map_err(EngineError::from)?;
    Ok(Json(json!({ "sagas": sagas })))
}

/// How many sagas are in each status: `{"completed": 12, "needs-attention": 1, ...}`.
async fn counts(State(engine): State<Engine>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = engine.store().counts().await.map_err(EngineError::from)?;
    Ok(Json(json!(counts)))
}

/// The tenant's takeover block as the coordinator holds it: the window, the sagas holding it,
/// and the flag command it waits on (since when), so an operator sees a restore that is not
/// getting through.
async fn takeover_lease(State(engine): State<Engine>) -> Result<Json<serde_json::Value>, ApiError> {
    let (lease, version) = engine.store().lease().await.map_err(EngineError::from)?;
    Ok(Json(json!({ "lease": lease, "version": version })))
}

async fn show(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<SagaView>, ApiError> {
    let saga_id = saga_id(&id)?;
    let store = engine.store();
    let found = store
        .load(saga_id)
        .await
        .map_err(EngineError::from)?
        .ok_or(EngineError::NotFound(saga_id))?;
    let timeline = store.timeline(saga_id).await.map_err(EngineError::from)?;
    let plan_hash = match &found.record.phase {
        Phase::Running { saga, .. } => match &saga.state {
            SagaState::AwaitingApproval { plan_hash, .. } => Some(plan_hash.clone()),
            _ => None,
        },
        _ => None,
    };
    Ok(Json(SagaView {
        status: found.record.phase.status().to_owned(),
        saga: found.record,
        version: found.version,
        plan_hash,
        timeline,
    }))
}

/// Applies an operator's input when the saga is in a state that takes it; `accepts` says why
/// not otherwise.
async fn operate(
    engine: &Engine,
    id: &str,
    input: Input,
    accepts: impl Fn(&Phase) -> Result<(), String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let saga_id = saga_id(id)?;
    let found = engine
        .store()
        .load(saga_id)
        .await
        .map_err(EngineError::from)?
        .ok_or(EngineError::NotFound(saga_id))?;
    accepts(&found.record.phase).map_err(conflict)?;
    engine.operator(saga_id, input).await?;
    let status = engine
        .store()
        .load(saga_id)
        .await
        .map_err(EngineError::from)?
        .map(|v| v.record.phase.status().to_owned());
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "saga_id": saga_id, "status": status })),
    ))
}

fn saga_state(phase: &Phase) -> Option<&SagaState> {
    match phase {
        Phase::Running { saga, .. } => Some(&saga.state),
        _ => None,
    }
}

async fn approve(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Result<Json<ApproveBody>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(body) = body?;
    let given = body.plan_hash.clone();
    operate(
        &engine,
        &id,
        Input::Approve {
            plan_hash: body.plan_hash,
        },
        |phase| match saga_state(phase) {
            Some(SagaState::AwaitingApproval { plan_hash, .. }) if *plan_hash == given => Ok(()),
            Some(SagaState::AwaitingApproval { plan_hash, .. }) => Err(format!(
                "this approval names plan {given}, but the saga waits for plan {plan_hash}: \
                 read the plan again before approving"
            )),
            _ => Err(format!(
                "the saga is {}, not awaiting approval",
                phase.status()
            )),
        },
    )
    .await
}

async fn abort(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Option<Json<ReasonBody>>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let reason = body
        .and_then(|Json(b)| b.reason)
        .unwrap_or_else(|| "aborted by an operator".into());
    operate(
        &engine,
        &id,
        Input::Abort { reason },
        |phase| match saga_state(phase) {
            Some(SagaState::Running { .. } | SagaState::AwaitingApproval { .. }) => Ok(()),
            _ => Err(format!(
                "the saga is {}: only a running or held saga can be aborted",
                phase.status()
            )),
        },
    )
    .await
}

async fn retry(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    operate(&engine, &id, Input::Retry, needs_attention).await
}

async fn resolve(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Result<Json<ResolveBody>, JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Json(body) = body?;
    if body.note.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "say what was done by hand in `note`".into(),
        ));
    }
    operate(
        &engine,
        &id,
        Input::Resolve { note: body.note },
        needs_attention,
    )
    .await
}

fn needs_attention(phase: &Phase) -> Result<(), String> {
    match saga_state(phase) {
        Some(SagaState::NeedsAttention { .. }) => Ok(()),
        _ => Err(format!(
            "the saga is {}, not needs-attention",
            phase.status()
        )),
    }
}
