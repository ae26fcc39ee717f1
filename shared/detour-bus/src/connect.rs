//! Opening connections and pacing reconnects.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use crate::{AmqpSettings, BusError};

/// Opens one connection, named so it shows up recognisably in the broker's connection list.
pub(crate) async fn open(settings: &AmqpSettings, name: &str) -> Result<Connection, BusError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&settings.uri(), properties)
        .await
        .map_err(|source| BusError::Connect {
            uri: settings.display_uri(),
            source,
        })
}

/// Exponential backoff with jitter, so replicas that lost the broker together do not all
/// return at the same instant.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(settings: &AmqpSettings) -> Self {
        let min = Duration::from_millis(settings.reconnect_min_ms);
        Self {
            min,
            max: Duration::from_millis(settings.reconnect_max_ms),
            next: min,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    /// A delay between half and all of the current step; the step doubles up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) from the operating system's randomness (through a v4 UUID).
fn jitter() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_maximum_and_reset() {
        let mut backoff = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(400),
            next: Duration::from_millis(100),
        };
        let steps: Vec<Duration> = (0..5).map(|_| backoff.next_delay()).collect();
        for (delay, step) in steps.iter().zip([100u64, 200, 400, 400, 400]) {
            assert!(
                *delay >= Duration::from_millis(step / 2) && *delay <= Duration::from_millis(step),
                "{delay:?} for {step}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
        assert!((0..1000).map(|_| jitter()).all(|j| (0.0..1.0).contains(&j)));
    }
}
