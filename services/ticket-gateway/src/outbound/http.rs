//! One REST call to a ticket system with Basic auth, retried on 429 (after `Retry-After`),
//! 5xx, timeouts and connection failures, with `detour-retry`'s doubling, jittered backoff.

use std::time::Duration;

use detour_config::Secret;
use detour_entra::received;
use detour_retry::{Attempt, Attempts, transient_status};
use serde_json::Value;

use super::WriteError;

#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base_url: String,
    user: String,
    secret: Secret,
    attempts: Attempts,
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
            attempts: Attempts {
                max_attempts: max_attempts.max(1),
                first_backoff: backoff,
            },
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
        let answer = self
            .attempts
            .run(what, |_| self.attempt(what, &build))
            .await;
        answer
            .map_err(|exhausted| WriteError::Transient(format!("{what}: {exhausted}")))
            .and_then(|answer| answer)
    }

    /// One attempt, and whether its answer is worth another.
    async fn attempt<F>(&self, what: &str, build: &F) -> Attempt<Result<Value, WriteError>>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let mut request = build(&self.http).basic_auth(&self.user, Some(self.secret.expose()));
        for (name, value) in detour_telemetry::current_trace_headers() {
            request = request.header(name, value);
        }
        let (status, retry_after, text) = match received(request.send().await).await {
            Ok(received) => received,
            Err(again) => return again,
        };
        if status.is_success() {
            return Attempt::Answer(Ok(serde_json::from_str(&text).unwrap_or(Value::Null)));
        }
        let why = format!("{status}: {}", text.chars().take(300).collect::<String>());
        if transient_status(status.as_u16()) {
            Attempt::Again { why, retry_after }
        } else {
            Attempt::Answer(Err(WriteError::Refused(format!("{what}: {why}"))))
        }
    }
}
