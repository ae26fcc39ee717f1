//! Sharing cycles: every request waits for a completed run that started after its change, and
//! any run counts, whoever started it (another request, a replica before a restart, or
//! Connect's own scheduler). The runner watches Connect's run history and starts a cycle only
//! when some request has no run that could answer it, once requests stop arriving for a moment
//! (or the first has waited the whole coalescing window), so that a burst rides one cycle.
//! Nothing is kept here that Connect does not keep: after a restart the redelivered requests
//! find their runs in the same history.

use std::{sync::Arc, time::Duration};

use detour_contracts::connect_agent::PolicyType;
use time::OffsetDateTime;
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};

use crate::{
    connect::{Connect, ConnectError},
    history::{CompletedRun, History, Listed},
};

/// How many of the newest runs are watched: more than ever finish while one request waits.
pub const HISTORY: usize = 20;

#[derive(Debug, Clone)]
pub enum CycleAnswer {
    /// The runs that may have seen the change, oldest first.
    Completed {
        runs: Vec<Arc<CompletedRun>>,
        coalesced: u32,
    },
    /// Connect will not run a cycle (staging mode, suspended scheduler).
    Refused { code: String, reason: String },
    /// It could not be done now (agent unreachable, no run within the deadline): try again.
    Failed(String),
}

#[derive(Debug)]
struct Waiting {
    since: OffsetDateTime,
    policy_type: PolicyType,
    arrived: Instant,
    answer: oneshot::Sender<CycleAnswer>,
}

#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The longest a request waits for others before a cycle is started for it.
    pub coalesce_window: Duration,
    /// A cycle starts sooner once no new request has come for this long.
    pub coalesce_quiet: Duration,
    pub poll_interval: Duration,
    pub busy_retry: Duration,
    pub deadline: Duration,
}

#[derive(Debug, Clone)]
pub struct Cycles {
    requests: mpsc::UnboundedSender<Waiting>,
}

impl Cycles {
    /// Starts the runner; it stops when the last `Cycles` handle is dropped.
    pub fn start<C: Connect>(client: Arc<C>, pacing: Pacing) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(Runner::new(client, pacing).run(queue));
        Self { requests }
    }

    /// Waits until a run that started at or after `since` has completed, and answers with
    /// every run that may have seen the change.
    pub async fn request(&self, since: OffsetDateTime, policy_type: PolicyType) -> CycleAnswer {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting {
            since,
            policy_type,
            arrived: Instant::now(),
            answer,
        };
        if self.requests.send(waiting).is_err() {
            return CycleAnswer::Failed("the cycle runner has stopped".into());
        }
        answered
            .await
            .unwrap_or_else(|_| CycleAnswer::Failed("the cycle runner has stopped".into()))
    }
}

struct Runner<C> {
    client: Arc<C>,
    pacing: Pacing,
    history: History,
    waiting: Vec<Waiting>,
    /// No cycle is asked for before then (Connect said busy, or one was just started and
    /// may not be listed yet).
    quiet_until: Instant,
    /// The last busy answer told in the log: a wait of many polls (Cloud Sync's schedule) is
    /// told once, not at every poll.
    told_busy: Option<String>,
}

impl<C: Connect> Runner<C> {
    fn new(client: Arc<C>, pacing: Pacing) -> Self {
        Self {
            client,
            pacing,
            history: History::default(),
            waiting: Vec::new(),
            quiet_until: Instant::now(),
            told_busy: None,
        }
    }

    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Waiting>) {
        loop {
            if self.waiting.is_empty() {
                match queue.recv().await {
                    Some(waiting) => self.waiting.push(waiting),
                    None => return,
                }
            }
            while let Ok(waiting) = queue.try_recv() {
                self.waiting.push(waiting);
            }
            self.pass().await;
            if !self.waiting.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(self.pacing.poll_interval) => {}
                    more = queue.recv() => match more {
                        Some(waiting) => self.waiting.push(waiting),
                        None => return,
                    },
                }
            }
        }
    }

    /// One look at Connect: answer whoever a completed run answers, give up on whoever waited
    /// past the deadline, and start a cycle if someone still needs one.
    async fn pass(&mut self) {
        self.waiting.retain(|w| !w.answer.is_closed());
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, waiting = self.waiting.len(), "cannot read Connect's runs");
        }
        self.answer_ready();
        self.give_up_late();
        self.start_if_needed().await;
    }

    async fn refresh(&mut self) -> Result<(), ConnectError> {
        let listed = self.client.recent_runs(HISTORY).await?;
        let oldest = self.waiting.iter().map(|w| w.since).min();
        self.history
            .relist(listed.iter().map(Listed::of).collect(), oldest);
        let Some(oldest) = oldest else { return Ok(()) };
        for run_id in self.history.to_fetch(oldest) {
            if let Some(run) = CompletedRun::new(self.client.run(run_id).await?) {
                self.history.fetched(run);
            }
        }
        Ok(())
    }

    fn answer_ready(&mut self) {
        let mut answered = Vec::new();
        let mut still = Vec::new();
        for waiting in self.waiting.drain(..) {
            match self.history.answer(waiting.since) {
                Some(runs) => answered.push((waiting, runs)),
                None => still.push(waiting),
            }
        }
        self.waiting = still;
        if answered.is_empty() {
            return;
        }
        let newest = |runs: &[Arc<CompletedRun>]| runs.last().map(|r| r.run_id);
        let newest_runs: Vec<_> = answered.iter().map(|(_, runs)| newest(runs)).collect();
        let count = answered.len();
        for (waiting, runs) in answered {
            let coalesced = newest_runs.iter().filter(|n| **n == newest(&runs)).count();
            metrics::counter!("detour_sync_trigger_requests_answered_total").increment(1);
            let _ = waiting.answer.send(CycleAnswer::Completed {
                runs,
                coalesced: coalesced as u32,
            });
        }
        metrics::histogram!("detour_sync_trigger_requests_per_pass").record(count as f64);
    }

    fn give_up_late(&mut self) {
        let deadline = self.pacing.deadline;
        let (late, still): (Vec<_>, Vec<_>) = self
            .waiting
            .drain(..)
            .partition(|w| w.arrived.elapsed() >= deadline);
        self.waiting = still;
        for waiting in late {
            let _ = waiting.answer.send(CycleAnswer::Failed(format!(
                "no cycle completed within {deadline:?}"
            )));
        }
    }

    async fn start_if_needed(&mut self) {
        let now = Instant::now();
        let needy: Vec<&Waiting> = self
            .waiting
            .iter()
            .filter(|w| !self.history.covers(w.since))
            .collect();
        let (Some(first), Some(last)) = (
            needy.iter().map(|w| w.arrived).min(),
            needy.iter().map(|w| w.arrived).max(),
        ) else {
            return;
        };
        let gathered =
            now >= first + self.pacing.coalesce_window || now >= last + self.pacing.coalesce_quiet;
        if self.history.running() || now < self.quiet_until || !gathered {
            return;
        }
        // A full import if anyone needs one; a delta otherwise [S18].
        let policy = if needy.iter().any(|w| w.policy_type == PolicyType::Initial) {
            PolicyType::Initial
        } else {
            PolicyType::Delta
        };
        let count = needy.len();
        match self.client.start(policy).await {
            Ok(run_id) => {
                self.told_busy = None;
                tracing::info!(?run_id, ?policy, waiting = count, "started a sync cycle");
                metrics::counter!("detour_sync_trigger_cycles_total").increment(1);
                // The next pass's history shows the run; until then, no second start.
                self.quiet_until = now + self.pacing.busy_retry;
            }
            Err(ConnectError::Busy(message)) => {
                if self.told_busy.as_ref() != Some(&message) {
                    tracing::info!(waiting = count, %message, "Connect is busy; its cycle will be watched");
                    self.told_busy = Some(message);
                }
                self.quiet_until = now + self.pacing.busy_retry;
            }
            Err(ConnectError::Refused { code, message }) => {
                self.answer_needy(&CycleAnswer::Refused {
                    code,
                    reason: message,
                });
            }
            Err(error @ ConnectError::Rejected(_)) => {
                self.answer_needy(&CycleAnswer::Failed(error.to_string()));
            }
            Err(error @ ConnectError::Transient(_)) => {
                tracing::warn!(%error, waiting = count, "cannot start a cycle yet");
                self.quiet_until = now + self.pacing.busy_retry;
            }
        }
    }

    /// Answers every request no run covers (those a running or done run covers still get it).
    fn answer_needy(&mut self, answer: &CycleAnswer) {
        let (needy, covered): (Vec<_>, Vec<_>) = self
            .waiting
            .drain(..)
            .partition(|w| !self.history.covers(w.since));
        self.waiting = covered;
        for waiting in needy {
            let _ = waiting.answer.send(answer.clone());
        }
    }
}

#[cfg(test)]
mod tests;
