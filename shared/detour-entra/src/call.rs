//! Sending a call to Graph or Exchange Online: a bearer token from the source, a permit from
//! the tenant's shared budget, and retries where Microsoft says to retry [S9][S10][S13][S33].

use std::{sync::Arc, time::Duration};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::Semaphore;

use detour_retry::{Attempt, Attempts, retry_after_seconds, transient_status};

/// What a retrying caller reads of every answer: its status, the server's `Retry-After`
/// (seconds), and its body; a request that got no answer is worth another attempt.
pub async fn received<T>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(StatusCode, Option<Duration>, String), Attempt<T>> {
    let response = sent.map_err(|error| Attempt::Again {
        why: error.to_string(),
        retry_after: None,
    })?;
    let status = response.status();
    let retry_after = retry_after_seconds(
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()),
    );
    let text = response.text().await.unwrap_or_default();
    Ok((status, retry_after, text))
}

use crate::{EntraSettings, TokenError, TokenSource};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Still throttled, failing or unreachable after every attempt.
    #[error("{0}")]
    Unavailable(String),
}

/// An answer the caller interprets: success, or an error status that retrying would not fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    /// The JSON body, or `Value::Null` when there was none or it was not JSON.
    pub body: Value,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Caller {
    http: reqwest::Client,
    tokens: Arc<TokenSource>,
    budget: Arc<Semaphore>,
    attempts: Attempts,
}

/// Whether a 404 may be replication lag after our own write [S13].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWrite {
    Yes,
    No,
}

/// Microsoft Graph's scope for an app's client-credentials token.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

impl Caller {
    /// A caller of Graph with a budget of its own (`max_concurrent_calls` in flight).
    pub fn for_graph(settings: &EntraSettings) -> Result<Self, String> {
        let budget = Arc::new(Semaphore::new(settings.max_concurrent_calls));
        Self::new(settings, GRAPH_SCOPE, budget)
    }

    /// A caller for `scope` (one resource); `budget` is shared by every caller of the tenant.
    pub fn new(
        settings: &EntraSettings,
        scope: &str,
        budget: Arc<Semaphore>,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .build()
            .map_err(|e| e.to_string())?;
        let tokens = TokenSource::new(
            http.clone(),
            &settings.identity_base_url,
            &settings.tenant,
            &settings.client_id,
            settings.client_secret.clone(),
            scope,
        );
        Ok(Self {
            http,
            tokens: Arc::new(tokens),
            budget,
            attempts: Attempts {
                max_attempts: settings.max_attempts,
                first_backoff: Duration::from_millis(settings.backoff_ms),
            },
        })
    }

    /// Sends the request `build` makes (again for each attempt) with a fresh bearer token.
    pub async fn send<F>(&self, build: F, after_write: AfterWrite) -> Result<Answer, CallError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let answer = self
            .attempts
            .run("call", |attempt| self.attempt(&build, after_write, attempt))
            .await;
        answer
            .map_err(|exhausted| CallError::Unavailable(exhausted.to_string()))
            .and_then(|answer| answer)
    }

    /// One attempt: a token, a permit, the request; and whether its answer is worth another.
    async fn attempt<F>(
        &self,
        build: &F,
        after_write: AfterWrite,
        attempt: u32,
    ) -> Attempt<Result<Answer, CallError>>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let token = match self.tokens.token().await {
            Ok(token) => token,
            Err(error) => return Attempt::Answer(Err(error.into())),
        };
        let sent = {
            let Ok(_permit) = self.budget.acquire().await else {
                return Attempt::Answer(Err(CallError::Unavailable(
                    "the call budget is closed".into(),
                )));
            };
            let mut request = build(&self.http).bearer_auth(token.expose());
            for (name, value) in detour_telemetry::current_trace_headers() {
                request = request.header(name, value);
            }
            request.send().await
        };
        let (status, retry_after, text) = match received(sent).await {
            Ok(received) => received,
            Err(again) => return again,
        };
        let concurrency = text.contains("maximum number of concurrent requests");
        let why = format!("{status}: {}", text.chars().take(300).collect::<String>());
        match status {
            StatusCode::UNAUTHORIZED if attempt == 1 => {
                // A token revoked or expired early: get a new one, once.
                self.tokens.forget().await;
                Attempt::AgainNow { why }
            }
            s if transient_status(s.as_u16()) || concurrency => Attempt::Again { why, retry_after },
            // Replication lag right after Detour's own write [S13].
            StatusCode::NOT_FOUND
                if after_write == AfterWrite::Yes && self.attempts.more_after(attempt) =>
            {
                Attempt::Again {
                    why,
                    retry_after: None,
                }
            }
            _ => {
                let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                Attempt::Answer(Ok(Answer { status, body, text }))
            }
        }
    }
}
