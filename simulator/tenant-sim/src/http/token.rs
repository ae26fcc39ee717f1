//! The identity platform's token endpoint, client-credentials grant only [S12]: one resource
//! per token, expiring bearer tokens, errors in the platform's own JSON shape.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;
use uuid::Uuid;

use crate::app::{IssuedToken, Resource, Sim};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

fn identity_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": super::rfc3339(time::OffsetDateTime::now_utc()),
        "trace_id": Uuid::new_v4(),
        "correlation_id": Uuid::new_v4(),
    });
    (status, Json(body)).into_response()
}

async fn token(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let known_tenant = sim
        .with_world(|w| {
            w.tenant.id.to_string().eq_ignore_ascii_case(&tenant)
                || w.tenant.initial_domain.eq_ignore_ascii_case(&tenant)
                || w.tenant
                    .verified_domains
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&tenant))
        })
        .unwrap_or(false);
    if !known_tenant {
        return identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return identity_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. Only client_credentials is served here.",
        );
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    // All scopes must be for one resource [S12].
    let resource = match scopes.as_slice() {
        [one] => Resource::from_scope(one),
        _ => None,
    };
    let Some(resource) = resource else {
        return identity_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            &format!(
                "The provided request must include a 'scope' input parameter with one resource's /.default scope; got {scope:?}."
            ),
        );
    };
    let client_id = form
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    let secret = form
        .get("client_secret")
        .map(String::as_str)
        .unwrap_or_default();
    let mut credentials = sim.credentials();
    let Some(app) = credentials
        .apps
        .iter()
        .find(|a| a.client_id.to_string().eq_ignore_ascii_case(client_id))
    else {
        return identity_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    if app.client_secret != secret {
        return identity_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    }
    let lifetime = credentials.token_lifetime_seconds;
    let access_token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let expires = sim.clock.now() + time::Duration::seconds(lifetime as i64);
    credentials
        .tokens
        .insert(access_token.clone(), IssuedToken { resource, expires });
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    }))
    .into_response()
}
