//! Client-credentials tokens for one resource [S12], cached and renewed a minute before they
//! expire; concurrent callers share one request for a new token.

use std::time::{Duration, Instant};

use detour_config::Secret;
use serde::Deserialize;
use tokio::sync::Mutex;

/// Renew this long before the token's stated expiry.
const EARLY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The identity platform refused: wrong secret, unknown app or tenant, bad scope. Not
    /// going to change by itself.
    #[error("the identity platform refused the credentials: {0}")]
    Refused(String),
    #[error("the identity platform is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Debug, Deserialize)]
struct TokenFailure {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

#[derive(Debug)]
pub struct TokenSource {
    http: reqwest::Client,
    url: String,
    client_id: String,
    secret: Secret,
    /// `https://graph.microsoft.com/.default` or `https://outlook.office365.com/.default`.
    scope: String,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    pub fn new(
        http: reqwest::Client,
        identity_base_url: &str,
        tenant: &str,
        client_id: &str,
        secret: Secret,
        scope: &str,
    ) -> Self {
        Self {
            http,
            url: format!(
                "{}/{tenant}/oauth2/v2.0/token",
                identity_base_url.trim_end_matches('/')
            ),
            client_id: client_id.to_owned(),
            secret,
            scope: scope.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// A token valid for at least a minute more.
    pub async fn token(&self) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref()
            && Instant::now() < current.renew_at
        {
            return Ok(current.token.clone());
        }
        let fresh = self.request().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token (the API said it was invalid).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn request(&self) -> Result<Cached, TokenError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .http
            .post(&self.url)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if status.is_success() {
            let token: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| TokenError::Unavailable(format!("unreadable token answer: {e}")))?;
            let lifetime = Duration::from_secs(token.expires_in);
            return Ok(Cached {
                token: Secret::new(token.access_token),
                renew_at: Instant::now() + lifetime.saturating_sub(EARLY),
            });
        }
        let failure: Option<TokenFailure> = serde_json::from_slice(&body).ok();
        let text = failure.map_or_else(
            || format!("{status}"),
            |f| format!("{}: {}", f.error, f.error_description),
        );
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(TokenError::Unavailable(text))
        } else {
            Err(TokenError::Refused(text))
        }
    }
}
