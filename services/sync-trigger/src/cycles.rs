//! Coalescing: requests for a cycle queue up; when a cycle can start, every request waiting
//! rides on it, and requests that arrive while it runs wait for the next. One runner per
//! instance starts one cycle at a time; the queue's single active consumer makes that one
//! cycle at a time across replicas too.

use std::{sync::Arc, time::Duration};

use detour_contracts::connect_agent::{PolicyType, RunOutcome, RunResult};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::connect_agent_client::{AgentCallError, AgentClient};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CycleAnswer {
    Completed {
        run: RunResult,
        coalesced: u32,
    },
    /// Connect will not run a cycle (staging mode, suspended scheduler).
    Refused {
        code: String,
        reason: String,
    },
    /// It could not be done now (agent unreachable, a cycle past its deadline): try again.
    Failed(String),
}

#[derive(Debug)]
struct Waiting {
    policy_type: PolicyType,
    answer: oneshot::Sender<CycleAnswer>,
}

#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    pub coalesce_window: Duration,
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
    pub fn start(client: Arc<AgentClient>, pacing: Pacing) -> Self {
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(queue, client, pacing));
        Self { requests }
    }

    /// Waits for the next cycle that can include this request, and answers with its result.
    pub async fn request(&self, policy_type: PolicyType) -> CycleAnswer {
        let (answer, answered) = oneshot::channel();
        if self
            .requests
            .send(Waiting {
                policy_type,
                answer,
            })
            .is_err()
        {
            return CycleAnswer::Failed("the cycle runner has stopped".into());
        }
        answered
            .await
            .unwrap_or_else(|_| CycleAnswer::Failed("the cycle runner has stopped".into()))
    }
}

fn take_waiting(queue: &mut mpsc::UnboundedReceiver<Waiting>, batch: &mut Vec<Waiting>) {
    while let Ok(waiting) = queue.try_recv() {
        batch.push(waiting);
    }
}

fn answer_all(batch: Vec<Waiting>, answer: &CycleAnswer) {
    for waiting in batch {
        let _ = waiting.answer.send(answer.clone());
    }
}

async fn run(
    mut queue: mpsc::UnboundedReceiver<Waiting>,
    client: Arc<AgentClient>,
    pacing: Pacing,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        tokio::time::sleep(pacing.coalesce_window).await;
        take_waiting(&mut queue, &mut batch);
        let deadline = tokio::time::Instant::now() + pacing.deadline;
        let Some(run_id) = start(&mut queue, &mut batch, &client, pacing, deadline).await else {
            continue;
        };
        let answer = match finish(&client, run_id, pacing, deadline).await {
            Ok(run) => CycleAnswer::Completed {
                run,
                coalesced: batch.len() as u32,
            },
            Err(reason) => CycleAnswer::Failed(reason),
        };
        metrics::counter!("detour_sync_trigger_cycles_total", "answer" => label(&answer))
            .increment(1);
        metrics::histogram!("detour_sync_trigger_requests_per_cycle").record(batch.len() as f64);
        answer_all(batch, &answer);
    }
}

/// Starts a cycle for the batch, asking again while Connect is busy (requests arriving
/// meanwhile join the batch: the cycle has not started). Answers the batch itself on refusal.
async fn start(
    queue: &mut mpsc::UnboundedReceiver<Waiting>,
    batch: &mut Vec<Waiting>,
    client: &AgentClient,
    pacing: Pacing,
    deadline: tokio::time::Instant,
) -> Option<Uuid> {
    loop {
        // A full import if anyone needs one; a delta otherwise [S18].
        let policy = if batch.iter().any(|w| w.policy_type == PolicyType::Initial) {
            PolicyType::Initial
        } else {
            PolicyType::Delta
        };
        let problem = match client.start(policy).await {
            Ok(run_id) => return Some(run_id),
            Err(AgentCallError::Refused { code, message }) => {
                answer_all(
                    std::mem::take(batch),
                    &CycleAnswer::Refused {
                        code,
                        reason: message,
                    },
                );
                return None;
            }
            Err(
                error @ (AgentCallError::Busy(_)
                | AgentCallError::Transient(_)
                | AgentCallError::Rejected(_)),
            ) => error,
        };
        if tokio::time::Instant::now() >= deadline || matches!(problem, AgentCallError::Rejected(_))
        {
            answer_all(
                std::mem::take(batch),
                &CycleAnswer::Failed(problem.to_string()),
            );
            return None;
        }
        tracing::info!(waiting = batch.len(), %problem, "cycle not started yet; asking again");
        tokio::time::sleep(pacing.busy_retry).await;
        take_waiting(queue, batch);
    }
}

async fn finish(
    client: &AgentClient,
    run_id: Uuid,
    pacing: Pacing,
    deadline: tokio::time::Instant,
) -> Result<RunResult, String> {
    loop {
        tokio::time::sleep(pacing.poll_interval).await;
        match client.run(run_id).await {
            Ok(run) if run.outcome != RunOutcome::InProgress => return Ok(run),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, %run_id, "cannot read the run's progress"),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "cycle {run_id} did not finish within {:?}",
                pacing.deadline
            ));
        }
    }
}

fn label(answer: &CycleAnswer) -> &'static str {
    match answer {
        CycleAnswer::Completed { .. } => "completed",
        CycleAnswer::Refused { .. } => "refused",
        CycleAnswer::Failed(_) => "failed",
    }
}
