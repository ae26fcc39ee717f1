//! When to try again, the same way everywhere: the HTTP clients of Graph, Exchange, Jira and
//! ServiceNow, and the bus's reconnect loop. Doubling steps with jitter (between half and all
//! of the step, so replicas that failed together do not return together), capped; and for
//! HTTP, which answers are worth another attempt and how long a server's `Retry-After` is
//! honoured; and the attempt loop itself ([`Attempts::run`]), so every client counts, waits and
//! gives up the same way.

use std::{future::Future, time::Duration};

/// The longest `Retry-After` honoured as given; a longer one is capped (and retried).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Doubling delays from `first` up to `max`, each jittered.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max: max.max(first),
            next: first,
        }
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// The next delay: between half and all of the current step, which then doubles.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        jittered(step)
    }
}

/// How a client retries its calls: how many attempts, and the first backoff step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    pub max_attempts: u32,
    pub first_backoff: Duration,
}

impl Attempts {
    /// The wait after failed attempt `attempt` (from 1): the server's `Retry-After` when it
    /// sent one, else the backoff step for that attempt; never more than [`MAX_RETRY_AFTER`].
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after
            .unwrap_or_else(|| {
                let doublings = attempt.saturating_sub(1).min(10);
                jittered(self.first_backoff.saturating_mul(1 << doublings))
            })
            .min(MAX_RETRY_AFTER)
    }

    /// Whether another attempt follows `attempt`.
    pub fn more_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// Calls `attempt` with 1, 2, ... until it has an answer or the attempts run out, waiting
    /// between as [`Attempts::wait`] says.
    pub async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, Exhausted>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut last = String::new();
        for number in 1..=self.max_attempts {
            let wait = match attempt(number).await {
                Attempt::Answer(answer) => return Ok(answer),
                Attempt::Again { why, retry_after } => {
                    last = why;
                    self.wait(number, retry_after)
                }
                Attempt::AgainNow { why } => {
                    last = why;
                    Duration::ZERO
                }
            };
            if self.more_after(number) {
                tracing::debug!(attempt = number, ?wait, %last, "{what}: retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(Exhausted {
            attempts: self.max_attempts,
            last,
        })
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The answer, good or bad: no more attempts.
    Answer(T),
    /// Worth another attempt, after the server's `Retry-After` if it sent one.
    Again {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Worth another attempt at once (with a renewed credential, say).
    AgainNow { why: String },
}

/// Every attempt was worth another, and there are no more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gave up after {attempts} attempts; last: {last}")]
pub struct Exhausted {
    pub attempts: u32,
    pub last: String,
}

/// Whether an HTTP status is worth another attempt: throttled (429), timed out (408), or a
/// server error (5xx). Anything else is the answer.
pub fn transient_status(status: u16) -> bool {
    status == 429 || status == 408 || (500..600).contains(&status)
}

/// A `Retry-After` header's value in seconds, the form Graph and Exchange send [S9]. An
/// HTTP-date or anything else reads as none, and the backoff applies.
pub fn retry_after_seconds(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse().ok().map(Duration::from_secs)
}

/// Between half and all of `step`.
fn jittered(step: Duration) -> Duration {
    let half = step / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) from the operating system's randomness (through a v4 UUID).
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(delay: Duration, step_ms: u64) -> bool {
        delay >= Duration::from_millis(step_ms / 2) && delay <= Duration::from_millis(step_ms)
    }

    #[test]
    fn delays_double_to_the_maximum_with_jitter_and_reset() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        for step in [100u64, 200, 400, 400, 400] {
            let delay = backoff.next_delay();
            assert!(within(delay, step), "{delay:?} for {step}");
        }
        backoff.reset();
        assert!(within(backoff.next_delay(), 100));
        assert!((0..1000).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }

    #[test]
    fn a_servers_retry_after_is_honoured_up_to_the_cap() {
        let attempts = Attempts {
            max_attempts: 3,
            first_backoff: Duration::from_millis(500),
        };
        assert_eq!(
            attempts.wait(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            attempts.wait(1, Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
        assert!(within(attempts.wait(1, None), 500));
        assert!(within(attempts.wait(3, None), 2_000));
        assert!(attempts.wait(64, None) <= MAX_RETRY_AFTER, "no overflow");
        assert!(attempts.more_after(2) && !attempts.more_after(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_stops_at_an_answer_or_after_the_last_attempt() {
        let attempts = Attempts {
            max_attempts: 3,
            first_backoff: Duration::from_millis(100),
        };
        let mut seen = Vec::new();
        let answer = attempts
            .run("test", |n| {
                seen.push(n);
                async move {
                    match n {
                        1 => Attempt::AgainNow { why: "401".into() },
                        2 => Attempt::Again {
                            why: "429".into(),
                            retry_after: Some(Duration::from_secs(1)),
                        },
                        _ => Attempt::Answer("done"),
                    }
                }
            })
            .await;
        assert_eq!(answer, Ok("done"));
        assert_eq!(seen, [1, 2, 3]);
        let exhausted = attempts
            .run("test", |_| async {
                Attempt::<()>::Again {
                    why: "503".into(),
                    retry_after: None,
                }
            })
            .await
            .unwrap_err();
        assert_eq!(exhausted.attempts, 3);
        assert_eq!(exhausted.to_string(), "gave up after 3 attempts; last: 503");
    }

    #[test]
    fn only_throttling_timeouts_and_server_errors_are_tried_again() {
        for status in [429, 408, 500, 502, 503, 504] {
            assert!(transient_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 409, 413] {
            assert!(!transient_status(status), "{status}");
        }
        assert_eq!(
            retry_after_seconds(Some(" 5 ")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after_seconds(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(retry_after_seconds(None), None);
    }
}
