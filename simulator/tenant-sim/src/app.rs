//! The running simulator: the world behind a lock, simulated time, the credentials a scenario
//! declared, and the work that mixes the model with I/O (loading a scenario, running a cycle).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::Context;
use detour_contracts::connect_agent::{AgentError, PolicyType, RunOutcome, RunResult};
use uuid::Uuid;

use crate::{
    ad::{self, AdSettings},
    clock::Clock,
    faults::{Faults, ResourceUnits},
    scenario::{AppSpec, Scenario},
    tickets::Tickets,
    world::World,
};

/// The two resources a token can be for [S12][S31].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Graph,
    Exchange,
}

impl Resource {
    pub fn from_scope(scope: &str) -> Option<Self> {
        match scope.trim().trim_end_matches('/') {
            "https://graph.microsoft.com/.default" => Some(Resource::Graph),
            "https://outlook.office365.com/.default" => Some(Resource::Exchange),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub resource: Resource,
    pub expires: time::OffsetDateTime,
}

#[derive(Debug, Default)]
pub struct Credentials {
    pub apps: Vec<AppSpec>,
    pub agent_key: String,
    pub token_lifetime_seconds: u64,
    pub tokens: HashMap<String, IssuedToken>,
}

#[derive(Debug)]
pub struct Sim {
    world: Mutex<Option<World>>,
    pub clock: Clock,
    pub credentials: Mutex<Credentials>,
    pub ad: AdSettings,
    cycle_seconds: Mutex<f64>,
    pub faults: Mutex<Faults>,
    graph_units: Mutex<ResourceUnits>,
    tickets: Mutex<Tickets>,
    replication: Mutex<Replication>,
    /// Bumped by every load, so the previous scenario's scheduler stops.
    generation: std::sync::atomic::AtomicU64,
    /// Set by `PUT /_sim/schedule`: the next scheduled cycle has not come yet, however long
    /// it has been, so a test decides when the schedule may run again.
    schedule_held: std::sync::atomic::AtomicBool,
    /// Requests served and refused with 429, per API, since the process started.
    pub traffic: Mutex<std::collections::BTreeMap<&'static str, Traffic>>,
}

/// What one API was asked, for benchmarks: `GET /_sim/traffic`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Traffic {
    pub requests: u64,
    pub throttled: u64,
}

/// Eventual consistency [S13]: for a while after a write, reads of that object see what was
/// there before (or nothing, for an object that did not exist).
#[derive(Debug, Default)]
struct Replication {
    lag_seconds: f64,
    pending: HashMap<
        Uuid,
        (
            time::OffsetDateTime,
            Option<serde_json::Map<String, serde_json::Value>>,
        ),
    >,
}

/// Why a request found no world to work on.
#[derive(Debug, thiserror::Error)]
#[error("no scenario is loaded: POST one to /_sim/scenario")]
pub struct NoScenario;

impl Sim {
    pub fn new(ad: AdSettings) -> Arc<Self> {
        Arc::new(Self {
            world: Mutex::new(None),
            clock: Clock::default(),
            credentials: Mutex::new(Credentials::default()),
            ad,
            cycle_seconds: Mutex::new(0.0),
            faults: Mutex::new(Faults::default()),
            graph_units: Mutex::new(ResourceUnits::new(3500, time::OffsetDateTime::now_utc())),
            tickets: Mutex::new(Tickets::default()),
            replication: Mutex::new(Replication::default()),
            generation: std::sync::atomic::AtomicU64::new(0),
            schedule_held: std::sync::atomic::AtomicBool::new(false),
            traffic: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Runs `f` on the world under its lock; keep `f` free of I/O.
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> Result<T, NoScenario> {
        let mut guard = lock(&self.world);
        let world = guard.as_mut().ok_or(NoScenario)?;
        world.purge_expired(self.clock.now());
        Ok(f(world))
    }

    /// Counts a request to `api` and whether it was throttled.
    pub fn count_request(&self, api: &'static str, throttled: bool) {
        let mut traffic = lock(&self.traffic);
        let counts = traffic.entry(api).or_default();
        counts.requests += 1;
        counts.throttled += u64::from(throttled);
    }

    pub fn credentials(&self) -> MutexGuard<'_, Credentials> {
        lock(&self.credentials)
    }

    /// Records a write to `id`; `before` is the object as reads should see it during the lag.
    pub fn note_write(&self, id: Uuid, before: Option<serde_json::Map<String, serde_json::Value>>) {
        let mut replication = lock(&self.replication);
        if replication.lag_seconds > 0.0 {
            let visible = self.clock.now() + time::Duration::seconds_f64(replication.lag_seconds);
            replication.pending.entry(id).or_insert((visible, before));
        }
    }

    /// What a read of `id` sees while a write has not replicated: `Some(None)` is "not found".
    pub fn stale_view(
        &self,
        id: Uuid,
    ) -> Option<Option<serde_json::Map<String, serde_json::Value>>> {
        let now = self.clock.now();
        let mut replication = lock(&self.replication);
        replication.pending.retain(|_, (visible, _)| *visible > now);
        replication
            .pending
            .get(&id)
            .map(|(_, before)| before.clone())
    }

    pub fn tickets(&self) -> MutexGuard<'_, Tickets> {
        lock(&self.tickets)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Spends Graph resource units, or says how long until enough have refilled.
    pub fn spend_graph_units(&self, cost: u32) -> Result<(), Duration> {
        lock(&self.graph_units).spend(cost, self.clock.now())
    }

    /// Replaces the world with `scenario`: its AD objects are created where missing, a first
    /// (Initial) cycle exports them, then the cloud-side facts are applied.
    pub async fn load(&self, scenario: &Scenario) -> anyhow::Result<usize> {
        ad::ensure_objects(
            &self.ad,
            &scenario.ad.ous,
            &scenario.ad.users,
            &scenario.ad.groups,
        )
        .await
        .context("cannot create the scenario's AD objects")?;
        let mut world = scenario.empty_world();
        let snapshot =
            ad::read_snapshot(&self.ad, world.connect.filter_attribute.as_deref()).await?;
        let now = self.clock.now();
        let run = world.run_sync(&snapshot, Uuid::new_v4(), PolicyType::Initial, now, now);
        world.connect.runs.push(run);
        scenario.apply_cloud_side(&mut world, now)?;
        let users = world.users.len();
        *lock(&self.world) = Some(world);
        *lock(&self.cycle_seconds) = scenario.delays.cycle_seconds;
        *lock(&self.graph_units) =
            ResourceUnits::new(scenario.limits.graph_resource_units(users), now);
        self.faults().clear();
        *self.tickets() = Tickets::from_spec(&scenario.tickets);
        *lock(&self.replication) = Replication {
            lag_seconds: scenario.delays.replication_lag_seconds,
            pending: HashMap::new(),
        };
        let mut credentials = self.credentials();
        credentials.apps.clone_from(&scenario.apps);
        credentials.agent_key.clone_from(&scenario.agent_key);
        credentials.token_lifetime_seconds = scenario.delays.token_lifetime_seconds;
        credentials.tokens.clear();
        Ok(users)
    }

    /// Runs scheduled cycles every `interval` seconds of simulated time (Connect's default is
    /// 30 minutes [S18]) until another scenario is loaded. A due cycle that cannot start (one
    /// is running, staging mode) waits for the next tick.
    pub fn start_scheduler(self: &Arc<Self>, interval_seconds: u64) {
        use std::sync::atomic::Ordering;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        if interval_seconds == 0 {
            return;
        }
        let sim = self.clone();
        tokio::spawn(async move {
            let interval = time::Duration::seconds(interval_seconds as i64);
            let mut due = sim.clock.now() + interval;
            while sim.generation.load(Ordering::SeqCst) == generation {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let enabled = sim
                    .with_world(|w| w.connect.sync_cycle_enabled)
                    .unwrap_or(false);
                if enabled
                    && sim.clock.now() >= due
                    && matches!(sim.start_scheduled_cycle(), Ok(Ok(_)))
                {
                    due = sim.clock.now() + interval;
                }
            }
        });
    }

    /// Holds the schedule (no scheduled cycle starts until it is released) or releases it.
    /// Holding waits up to `patience` for a cycle already running to finish, and says whether
    /// none runs now.
    pub async fn hold_schedule(&self, held: bool, patience: Duration) -> Result<bool, NoScenario> {
        use std::sync::atomic::Ordering;
        // Under the world's lock, as a scheduled start checks it: a start either came first
        // (and is waited for) or sees the hold.
        self.with_world(|_| self.schedule_held.store(held, Ordering::SeqCst))?;
        let until = tokio::time::Instant::now() + patience;
        loop {
            let running = self.with_world(|w| w.connect.running.is_some())?;
            if !held || !running {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= until {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a cycle unless one runs or Connect refuses; the cycle itself runs in the
    /// background for the scenario's cycle time, then imports AD and exports.
    pub fn start_cycle(
        self: &Arc<Self>,
        policy_type: PolicyType,
    ) -> Result<Result<Uuid, AgentError>, NoScenario> {
        self.start_cycle_for(policy_type, false)
    }

    /// The scheduler's delta cycle: as `start_cycle`, unless the schedule is held.
    fn start_scheduled_cycle(self: &Arc<Self>) -> Result<Result<Uuid, AgentError>, NoScenario> {
        self.start_cycle_for(PolicyType::Delta, true)
    }

    fn start_cycle_for(
        self: &Arc<Self>,
        policy_type: PolicyType,
        scheduled: bool,
    ) -> Result<Result<Uuid, AgentError>, NoScenario> {
        use std::sync::atomic::Ordering;
        let now = self.clock.now();
        let started = self.with_world(|world| {
            let connect = &mut world.connect;
            let refusal = if scheduled && self.schedule_held.load(Ordering::SeqCst) {
                Some((
                    "schedule-held",
                    "The schedule is held (PUT /_sim/schedule).".to_owned(),
                ))
            } else if connect.running.is_some() {
                // Start-ADSyncSyncCycle's own text [S40].
                Some((
                    "busy",
                    format!(
                        "System.InvalidOperationException: Connector: {} - AAD is busy.",
                        world.tenant.initial_domain
                    ),
                ))
            } else if connect.staging_mode_enabled {
                Some((
                    "staging-mode",
                    "Staging mode is enabled: this server exports nothing.".to_owned(),
                ))
            } else if let Some(job) = connect.cloud_sync.as_ref().filter(|job| !job.runs()) {
                Some((
                    "job-stopped",
                    format!(
                        "The provisioning job is {}.",
                        if job.quarantined {
                            "in quarantine"
                        } else {
                            "paused"
                        }
                    ),
                ))
            } else if connect.scheduler_suspended {
                Some((
                    "scheduler-suspended",
                    "The scheduler is suspended (an upgrade or the wizard is running).".to_owned(),
                ))
            } else {
                None
            };
            if let Some((code, message)) = refusal {
                return Err(AgentError {
                    code: code.to_owned(),
                    message,
                });
            }
            let run_id = Uuid::new_v4();
            connect.running = Some(run_id);
            connect.runs.push(RunResult {
                run_id,
                policy_type,
                outcome: RunOutcome::InProgress,
                start_date: now,
                end_date: None,
                connectors: Vec::new(),
                objects: Vec::new(),
            });
            Ok(run_id)
        })?;
        if let Ok(run_id) = started {
            let sim = self.clone();
            tokio::spawn(async move { sim.finish_cycle(run_id, policy_type, now).await });
        }
        Ok(started)
    }

    /// Cloud Sync's on-demand provisioning of the AD object at `distinguished_name`: `Err`
    /// with the wait when the job's rate limit is spent.
    pub async fn provision_on_demand(
        &self,
        distinguished_name: &str,
    ) -> Result<Result<RunResult, time::Duration>, NoScenario> {
        let now = self.clock.now();
        let admitted = self.with_world(|world| match world.connect.cloud_sync.as_mut() {
            Some(job) => job.admit_on_demand(now),
            None => Ok(()),
        })?;
        if let Err(wait) = admitted {
            return Ok(Err(wait));
        }
        let filter = self.with_world(|w| w.connect.filter_attribute.clone())?;
        let snapshot = ad::read_snapshot(&self.ad, filter.as_deref()).await;
        let wanted = detour_contracts::Dn::parse(distinguished_name).ok();
        let now = self.clock.now();
        self.with_world(|world| {
            let user = snapshot.as_ref().ok().and_then(|snapshot| {
                snapshot.users.iter().find(|user| {
                    wanted.as_ref().is_some_and(|dn| {
                        detour_contracts::Dn::parse(&user.distinguished_name)
                            .is_ok_and(|other| other.same_as(dn))
                    })
                })
            });
            let result = world.provision_one(user, distinguished_name, Uuid::new_v4(), now);
            if let Some(job) = world.connect.cloud_sync.as_mut() {
                job.on_demand.push(result.clone());
            }
            Ok(result)
        })
    }

    async fn finish_cycle(
        &self,
        run_id: Uuid,
        policy_type: PolicyType,
        started: time::OffsetDateTime,
    ) {
        let seconds = *lock(&self.cycle_seconds);
        tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
        let filter = self
            .with_world(|w| w.connect.filter_attribute.clone())
            .ok()
            .flatten();
        let snapshot = ad::read_snapshot(&self.ad, filter.as_deref()).await;
        let now = self.clock.now();
        let _ = self.with_world(|world| {
            let result = match &snapshot {
                Ok(snapshot) => world.run_sync(snapshot, run_id, policy_type, started, now),
                Err(error) => {
                    tracing::warn!(%error, "the AD connector could not import");
                    RunResult {
                        run_id,
                        policy_type,
                        outcome: RunOutcome::NoStartConnection,
                        start_date: started,
                        end_date: Some(now),
                        connectors: Vec::new(),
                        objects: Vec::new(),
                    }
                }
            };
            // Cloud Sync quarantines a job whose run would delete too much (domain-2026.md 1.1).
            if result.outcome == RunOutcome::StoppedDeletionThresholdExceeded
                && let Some(job) = world.connect.cloud_sync.as_mut()
            {
                job.quarantined = true;
                job.quarantine_reason = Some("TooManyDeletes".into());
            }
            if let Some(slot) = world.connect.runs.iter_mut().find(|r| r.run_id == run_id) {
                *slot = result;
            }
            world.connect.running = None;
            world.connect.next_policy_type = PolicyType::Delta;
        });
    }
}

/// A poisoned lock still holds consistent data here: every writer finishes its change before
/// it can panic, so the guard is taken over rather than propagating the panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
