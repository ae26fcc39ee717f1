//! One REST call to a ticket system with Basic auth, retried on 429 (after `Retry-After`),
//! 5xx, timeouts and connection failures, with doubling, jittered backoff.

use std::time::Duration;

use detour_config::Secret;
use detour_entra::retry::{MAX_RETRY_AFTER, backoff, retry_after};
use reqwest::StatusCode;
use serde_json::Value;

use super::WriteError;

#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base_url: String,
    user: String,
    secret: Secret,
    max_attempts: u32,
    backoff: Duration,
}

impl RestClient {
    pub fn new(
        base_url: &str,
        user: &str,
        secret: Secret,
        timeout: Duration,
        max_attempts: u32,
        backoff: Duration,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|error| error.to_string())?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            user: user.to_owned(),
            secret,
            max_attempts: max_attempts.max(1),
            backoff,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `value` as one path segment: everything but RFC 3986's unreserved characters is
    /// percent-encoded, so no value can add a segment (`/`), climb (`..` stays a name within
    /// the segment) or start a query.
    pub fn segment(value: &str) -> String {
        value
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// Sends what `build` makes (again for each attempt) and returns the JSON of a 2xx answer.
    pub async fn send<F>(&self, what: &str, build: F) -> Result<Value, WriteError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut last = String::new();
        for attempt in 1..=self.max_attempts {
            let mut request = build(&self.http).basic_auth(&self.user, Some(self.secret.expose()));
            for (name, value) in detour_telemetry::current_trace_headers() {
                request = request.header(name, value);
            }
            let sent = request.send().await;
            let wait = match sent {
                Err(error) => {
                    last = error.to_string();
                    backoff(self.backoff, attempt)
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
                    }
                    last = format!("{status}: {}", text.chars().take(300).collect::<String>());
                    let transient = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::REQUEST_TIMEOUT
                        || status.is_server_error();
                    if !transient {
                        return Err(WriteError::Refused(format!("{what}: {last}")));
                    }
                    retry_after.unwrap_or_else(|| backoff(self.backoff, attempt))
                }
            };
            if attempt < self.max_attempts {
                tracing::debug!(attempt, ?wait, %last, "{what}: retrying");
                tokio::time::sleep(wait.min(MAX_RETRY_AFTER)).await;
            }
        }
        Err(WriteError::Transient(format!(
            "{what}: gave up after {} attempts; last: {last}",
            self.max_attempts
        )))
    }
}
