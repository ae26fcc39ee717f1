//! The identity platform's token endpoint, client-credentials grant only [S12]: one resource
//! per token, expiring bearer tokens, errors in the platform's own JSON shape.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Form, Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use uuid::Uuid;

use crate::app::{IssuedToken, Resource, Sim};

pub(super) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
}

/// Whether `tenant` names this tenant: its id, initial domain or a verified domain.
fn known_tenant(sim: &Sim, tenant: &str) -> bool {
    sim.with_world(|w| {
        w.tenant.id.to_string().eq_ignore_ascii_case(tenant)
            || w.tenant.initial_domain.eq_ignore_ascii_case(tenant)
            || w.tenant
                .verified_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(tenant))
    })
    .unwrap_or(false)
}

fn tenant_not_found(tenant: &str) -> Response {
    identity_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!("Tenant '{tenant}' not found."),
    )
}

/// The OpenID Connect discovery document MSAL reads before its first token request
/// (`{authority}/v2.0/.well-known/openid-configuration`): the same fields the identity platform
/// answers, with this simulator's own address in each endpoint.
async fn openid_configuration(
    State(sim): State<Arc<Sim>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !known_tenant(&sim, &tenant) {
        return tenant_not_found(&tenant);
    }
    let tenant_id = sim
        .with_world(|w| w.tenant.id.to_string())
        .unwrap_or_else(|_| tenant.clone());
    let base = super::base_url(&headers);
    let at = |path: &str| format!("{base}/{tenant_id}{path}");
    Json(json!({
        "token_endpoint": at("/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": at("/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": at("/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": at("/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": at("/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": at("/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

/// The signing keys document. The simulator's access tokens are opaque (their resource reads
/// them back from its own table, and a client never validates a token meant for an API), so
/// it names no key.
async fn keys(State(sim): State<Arc<Sim>>, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&sim, &tenant) {
        return tenant_not_found(&tenant);
    }
    Json(json!({ "keys": [] })).into_response()
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
    if !known_tenant(&sim, &tenant) {
        return tenant_not_found(&tenant);
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
