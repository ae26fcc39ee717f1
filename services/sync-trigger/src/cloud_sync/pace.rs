//! On-demand provisioning's limit, 5 requests per 10 seconds per job (domain-2026.md 1.1),
//! kept on this side as a sliding window, so the server's 429s stay the exception.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

#[derive(Debug)]
pub struct Window {
    per: Duration,
    most: usize,
    sent: VecDeque<Instant>,
}

impl Window {
    pub fn new(most: usize, per: Duration) -> Self {
        Self {
            per,
            most: most.max(1),
            sent: VecDeque::new(),
        }
    }

    /// How long to wait before one more request may go at `now` (zero: at once), counting it
    /// as sent then.
    pub fn take(&mut self, now: Instant) -> Duration {
        while self.sent.front().is_some_and(|at| *at + self.per <= now) {
            self.sent.pop_front();
        }
        let at = if self.sent.len() < self.most {
            now
        } else {
            let freed = self.sent[self.sent.len() - self.most] + self.per;
            freed.max(now)
        };
        self.sent.push_back(at);
        at - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_go_at_once_and_the_sixth_waits_for_the_first_to_leave_the_window() {
        let start = Instant::now();
        let mut window = Window::new(5, Duration::from_secs(10));
        for _ in 0..5 {
            assert_eq!(window.take(start), Duration::ZERO);
        }
        assert_eq!(window.take(start), Duration::from_secs(10));
        assert_eq!(
            window.take(start + Duration::from_secs(4)),
            Duration::from_secs(6)
        );
        assert_eq!(
            window.take(start + Duration::from_secs(30)),
            Duration::ZERO,
            "an old window is forgotten"
        );
    }
}
