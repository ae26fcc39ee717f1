//! One read shared by every caller within a short time: the first caller reads, callers that
//! arrive meanwhile wait for its answer, and later ones reuse it until it is `max_age` old. A
//! failed read is not kept.

use std::time::Duration;

use tokio::{sync::Mutex, time::Instant};

#[derive(Debug)]
pub struct SharedRead<T> {
    max_age: Duration,
    last: Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> SharedRead<T> {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            last: Mutex::new(None),
        }
    }

    /// The last answer if it is fresh enough, else a new one from `read`.
    pub async fn get<E, F>(&self, read: impl FnOnce() -> F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        // Held across the read: callers arriving meanwhile wait for it instead of reading too.
        let mut last = self.last.lock().await;
        if let Some((at, value)) = last.as_ref()
            && at.elapsed() < self.max_age
        {
            return Ok(value.clone());
        }
        let value = read().await?;
        *last = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn callers_share_a_fresh_read_and_a_failure_is_not_kept() {
        let reads = AtomicU32::new(0);
        let read = || async { Ok::<_, String>(reads.fetch_add(1, Ordering::SeqCst) + 1) };
        let shared = SharedRead::new(Duration::from_secs(60));
        let (a, b) = tokio::join!(shared.get(read), shared.get(read));
        assert_eq!((a, b), (Ok(1), Ok(1)), "one read for both");
        assert_eq!(shared.get(read).await, Ok(1), "still fresh");

        let always_stale = SharedRead::new(Duration::ZERO);
        assert_eq!(always_stale.get(read).await, Ok(2));
        assert_eq!(always_stale.get(read).await, Ok(3), "too old: read again");
        let failed = always_stale.get(|| async { Err::<u32, _>("down".to_owned()) });
        assert_eq!(failed.await, Err("down".into()));
        assert_eq!(
            always_stale.get(read).await,
            Ok(4),
            "the failure was not kept"
        );
    }
}
