//! The runner against an in-memory Connect: a burst rides one cycle, a run someone else started
//! answers without a start, a busy Connect is asked again, and a refusal reaches every request
//! it concerns. Against the Connect agent and tenant-sim, `tests/it/cycles.rs` does the same.

use std::sync::Mutex;

use detour_contracts::connect_agent::{
    AgentVersion, ConnectorScope, DeletionThreshold, RunOutcome, RunResult, SchedulerState,
};
use uuid::Uuid;

use super::*;

/// Runs Connect has done; a start completes a run at once. `busy` starts are answered busy
/// first; `refusal` answers every start.
#[derive(Default)]
struct FakeConnect {
    runs: Mutex<Vec<RunResult>>,
    starts: Mutex<u32>,
    busy: Mutex<u32>,
    refusal: Option<(String, String)>,
}

impl FakeConnect {
    fn completed_run(started: OffsetDateTime) -> RunResult {
        RunResult {
            run_id: Uuid::new_v4(),
            policy_type: PolicyType::Delta,
            outcome: RunOutcome::Success,
            start_date: started,
            end_date: Some(started + Duration::from_millis(1)),
            connectors: Vec::new(),
            objects: Vec::new(),
        }
    }

    fn starts(&self) -> u32 {
        *self.starts.lock().unwrap()
    }
}

impl Connect for FakeConnect {
    async fn scheduler(&self) -> Result<SchedulerState, ConnectError> {
        unreachable!("the runner never reads the scheduler")
    }

    async fn version(&self) -> Result<AgentVersion, ConnectError> {
        unreachable!("the runner never reads the version")
    }

    async fn deletion_threshold(&self) -> Result<DeletionThreshold, ConnectError> {
        unreachable!("the runner never reads the threshold")
    }

    async fn scope(&self) -> Result<ConnectorScope, ConnectError> {
        unreachable!("the runner never reads the scope")
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunResult>, ConnectError> {
        let runs = self.runs.lock().unwrap();
        Ok(runs.iter().rev().take(limit).cloned().collect())
    }

    async fn run(&self, run_id: Uuid) -> Result<RunResult, ConnectError> {
        self.runs
            .lock()
            .unwrap()
            .iter()
            .find(|run| run.run_id == run_id)
            .cloned()
            .ok_or_else(|| ConnectError::Rejected(format!("no run {run_id}")))
    }

    async fn start(&self, _policy_type: PolicyType) -> Result<Option<Uuid>, ConnectError> {
        *self.starts.lock().unwrap() += 1;
        if let Some((code, message)) = &self.refusal {
            return Err(ConnectError::Refused {
                code: code.clone(),
                message: message.clone(),
            });
        }
        {
            let mut busy = self.busy.lock().unwrap();
            if *busy > 0 {
                *busy -= 1;
                return Err(ConnectError::Busy("a cycle is running".into()));
            }
        }
        let run = Self::completed_run(OffsetDateTime::now_utc());
        let run_id = run.run_id;
        self.runs.lock().unwrap().push(run);
        Ok(Some(run_id))
    }
}

fn pacing() -> Pacing {
    Pacing {
        coalesce_window: Duration::from_millis(300),
        coalesce_quiet: Duration::from_millis(50),
        poll_interval: Duration::from_millis(10),
        busy_retry: Duration::from_millis(30),
        deadline: Duration::from_secs(20),
    }
}

async fn burst(cycles: &Cycles, requests: usize) -> Vec<CycleAnswer> {
    let since = OffsetDateTime::now_utc();
    let mut asks = tokio::task::JoinSet::new();
    for _ in 0..requests {
        let cycles = cycles.clone();
        asks.spawn(async move { cycles.request(since, PolicyType::Delta).await });
    }
    asks.join_all().await
}

#[tokio::test]
async fn a_burst_of_requests_rides_one_cycle() {
    let connect = Arc::new(FakeConnect::default());
    let cycles = Cycles::start(connect.clone(), pacing());
    let answers = burst(&cycles, 25).await;
    for answer in &answers {
        assert!(
            matches!(answer, CycleAnswer::Completed { runs, .. } if runs.len() == 1),
            "{answer:?}"
        );
    }
    assert_eq!(connect.starts(), 1);
}

#[tokio::test]
async fn a_run_started_by_someone_else_after_the_change_answers_without_a_start() {
    let connect = Arc::new(FakeConnect::default());
    let since = OffsetDateTime::now_utc();
    // Connect's own scheduler ran after the change.
    connect
        .runs
        .lock()
        .unwrap()
        .push(FakeConnect::completed_run(since + Duration::from_millis(5)));
    let cycles = Cycles::start(connect.clone(), pacing());
    let answer = cycles.request(since, PolicyType::Delta).await;
    assert!(
        matches!(answer, CycleAnswer::Completed { .. }),
        "{answer:?}"
    );
    assert_eq!(connect.starts(), 0);
}

#[tokio::test]
async fn a_busy_connect_is_asked_again_and_its_cycle_answers() {
    let connect = Arc::new(FakeConnect {
        busy: Mutex::new(2),
        ..FakeConnect::default()
    });
    let cycles = Cycles::start(connect.clone(), pacing());
    let answers = burst(&cycles, 3).await;
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, CycleAnswer::Completed { .. })),
        "{answers:?}"
    );
    assert_eq!(connect.starts(), 3, "two busy answers, then the start");
}

#[tokio::test]
async fn a_refusal_reaches_every_request_that_needs_a_cycle() {
    let connect = Arc::new(FakeConnect {
        refusal: Some((
            "staging-mode".into(),
            "the server is in staging mode".into(),
        )),
        ..FakeConnect::default()
    });
    let cycles = Cycles::start(connect.clone(), pacing());
    let answers = burst(&cycles, 4).await;
    for answer in answers {
        assert!(
            matches!(answer, CycleAnswer::Refused { ref code, .. } if code == "staging-mode"),
            "{answer:?}"
        );
    }
    assert_eq!(connect.starts(), 1, "one refusal answers all four");
}
