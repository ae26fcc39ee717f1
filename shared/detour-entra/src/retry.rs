//! When to try a throttled or failed HTTP call again: `Retry-After` as the server sends it
//! (seconds, the form Graph uses [S9]), else doubling steps with jitter. Shared by every
//! Detour client of a remote API.

use std::time::Duration;

/// The longest `Retry-After` honoured as given; a longer one is capped (and retried).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// `Retry-After` in seconds, if the answer has one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// The wait before attempt `attempt + 1`: between half and all of `base * 2^(attempt-1)`.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let step = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    step / 2 + (step / 2).mul_f64(jitter)
}
