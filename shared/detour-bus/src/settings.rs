//! The `[amqp]` settings section: where the broker is and how the bus behaves.

use std::time::Duration;

use detour_config::{Problems, Secret, SecretKey};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub vhost: String,
    /// Unacknowledged deliveries the broker may push to one consumer.
    pub prefetch: u16,
    /// Deliveries handled at once by one consumer (at most `prefetch`).
    pub concurrency: usize,
    /// Delay before each retry; the last one repeats. Growing: `[1000, 5000, 30000]`.
    pub retry_delays_ms: Vec<u64>,
    /// Attempts in all, the first included, before a retried message is dead-lettered.
    pub max_attempts: u32,
    /// Redeliveries the broker allows a message that is never acked (a handler crashing the
    /// process) before it dead-letters it itself: the last guard against a poison loop.
    pub delivery_limit: u32,
    /// How long a publish may wait for a connection and a confirm before it fails.
    pub publish_timeout_ms: u64,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// A handler still running after this long is abandoned and its delivery retried: the
    /// watchdog for a call that hangs despite its own timeouts. Longer than any legitimate
    /// wait (sync-trigger's cycle deadline, 2 h by default).
    #[serde(default = "default_handler_timeout_ms")]
    pub handler_timeout_ms: u64,
}

impl AmqpSettings {
    pub const LIST_KEYS: &'static [&'static str] = &["amqp.retry_delays_ms"];
    /// The broker password may come from a file (`amqp.password_file`, a mounted secret),
    /// replacing the default `guest`.
    pub const PASSWORD: SecretKey = SecretKey::optional("amqp.password");

    pub fn handler_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.handler_timeout_ms)
    }

    pub fn validate(&self, problems: &mut Problems) {
        problems.check(
            !self.host.trim().is_empty(),
            "amqp.host",
            "must not be empty",
        );
        problems.check(self.port != 0, "amqp.port", "must not be 0");
        problems.check(
            !self.username.is_empty(),
            "amqp.username",
            "must not be empty",
        );
        problems.check(
            !self.password.is_blank(),
            "amqp.password",
            "must not be empty or only white space",
        );
        problems.check(self.prefetch > 0, "amqp.prefetch", "must be at least 1");
        problems.check(
            self.handler_timeout_ms > 0,
            "amqp.handler_timeout_ms",
            "must be positive",
        );
        problems.check(
            self.concurrency > 0 && self.concurrency <= usize::from(self.prefetch),
            "amqp.concurrency",
            format!("must be between 1 and amqp.prefetch ({})", self.prefetch),
        );
        problems.check(
            !self.retry_delays_ms.is_empty(),
            "amqp.retry_delays_ms",
            "needs at least one delay",
        );
        problems.check(
            self.retry_delays_ms.iter().all(|ms| *ms > 0),
            "amqp.retry_delays_ms",
            "delays must be positive",
        );
        problems.check(
            self.max_attempts >= 1,
            "amqp.max_attempts",
            "must be at least 1",
        );
        problems.check(
            self.delivery_limit >= 1,
            "amqp.delivery_limit",
            "must be at least 1",
        );
        problems.check(
            self.publish_timeout_ms > 0,
            "amqp.publish_timeout_ms",
            "must be positive",
        );
        problems.check(
            self.reconnect_min_ms > 0 && self.reconnect_min_ms <= self.reconnect_max_ms,
            "amqp.reconnect_min_ms",
            "must be positive and at most amqp.reconnect_max_ms",
        );
    }

    /// The AMQP URI, password included: hand it only to the connection.
    /// The connection URI. Heartbeats every 10 s: a broker gone silent (a cut link, a frozen
    /// node) ends the connection within about 20 s instead of the broker's default 60 s
    /// interval, so the consume loop notices and reconnects.
    pub(crate) fn uri(&self) -> String {
        format!(
            "amqp://{}:{}@{}:{}/{}?heartbeat=10",
            percent_encode(&self.username),
            percent_encode(self.password.expose()),
            self.host,
            self.port,
            percent_encode(&self.vhost),
        )
    }

    /// A URI safe to log.
    pub fn display_uri(&self) -> String {
        format!(
            "amqp://{}@{}:{}/{}",
            self.username,
            self.host,
            self.port,
            percent_encode(&self.vhost)
        )
    }

    /// The delay before attempt `next_attempt` (2 for the first retry).
    pub(crate) fn retry_delay(&self, next_attempt: u32) -> Duration {
        let index = (next_attempt.saturating_sub(2) as usize).min(self.retry_delays_ms.len() - 1);
        Duration::from_millis(self.retry_delays_ms[index])
    }

    pub(crate) fn publish_timeout(&self) -> Duration {
        Duration::from_millis(self.publish_timeout_ms)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, as userinfo and the vhost
/// path segment of an AMQP URI need (`/` is the default vhost and must become `%2f`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02x}"));
        }
    }
    out
}

/// Three hours: past sync-trigger's default cycle deadline of two.
fn default_handler_timeout_ms() -> u64 {
    3 * 3600 * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vhost_and_password_are_encoded_in_the_uri() {
        assert_eq!(percent_encode("/"), "%2f");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3aw%2frd");
        assert_eq!(percent_encode("plain-name_1.x~"), "plain-name_1.x~");
    }
}
