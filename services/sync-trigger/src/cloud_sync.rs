//! The [`Connect`] port over Entra Cloud Sync, through Graph's synchronization API
//! (domain-2026.md 1.1). The configuration is found by its service principal (Cloud Sync's
//! app template, named after the AD domain) and its `AD2AADProvisioning` job. Cloud Sync has
//! no "sync now": an object that is in scope is brought in or updated at once by
//! `provisionOnDemand` (5 per 10 s); anything else, a user leaving scope above all, waits for
//! the job's next scheduled run, read from the job's status and the provisioning log. A paused
//! or quarantined job is a refusal with its reason.

mod answers;
mod pace;

use std::{collections::BTreeMap, time::Duration};

use detour_contracts::{
    Dn,
    connect_agent::{
        AgentVersion, ConnectorCounters, ConnectorScope, DeletionThreshold, ObjectOutcome,
        ObjectResult, PolicyType, RunOutcome, RunResult, SchedulerState,
    },
};
use detour_entra::{AfterWrite, Caller, EntraSettings};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::{
    connect::{Connect, ConnectError},
    ssh::shapes::ShapeError,
};
use answers::JobState;
use detour_contracts::sync_trigger::SyncClient;

const APP_TEMPLATE_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
const JOB_TEMPLATE_ID: &str = "AD2AADProvisioning";
/// The most provisioning-log entries one run's objects are read from.
const LOG_PAGE: usize = 500;

/// The configuration's objects, found once.
#[derive(Debug, Clone)]
struct Job {
    service_principal_id: String,
    job_id: String,
    rule_id: String,
    scope: Vec<Dn>,
}

#[derive(Debug)]
pub struct CloudSync {
    caller: Caller,
    base: String,
    /// The configuration's name: the AD domain it syncs.
    configuration: String,
    job: Mutex<Option<Job>>,
    on_demand: Mutex<pace::Window>,
}

fn unexpected(error: ShapeError) -> ConnectError {
    ConnectError::Rejected(error.to_string())
}

fn objects(body: &Value, what: &str) -> Result<Vec<Map<String, Value>>, ConnectError> {
    body.get("value")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectError::Rejected(format!("{what} answered without a value list")))?
        .iter()
        .map(|item| {
            item.as_object()
                .cloned()
                .ok_or_else(|| ConnectError::Rejected(format!("{what} listed {item}")))
        })
        .collect()
}

fn as_map(body: Value, what: &str) -> Result<Map<String, Value>, ConnectError> {
    match body {
        Value::Object(map) => Ok(map),
        other => Err(ConnectError::Rejected(format!("{what} answered {other}"))),
    }
}

impl CloudSync {
    pub fn new(
        base_url: &str,
        entra: &EntraSettings,
        configuration: String,
        on_demand_per_10_seconds: usize,
    ) -> anyhow::Result<Self> {
        let caller = Caller::for_graph(entra).map_err(anyhow::Error::msg)?;
        Ok(Self {
            caller,
            base: format!("{}/v1.0", base_url.trim_end_matches('/')),
            configuration,
            job: Mutex::new(None),
            // Half a second over Graph's 10 s: its window starts when a request arrives.
            on_demand: Mutex::new(pace::Window::new(
                on_demand_per_10_seconds,
                Duration::from_millis(10_500),
            )),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Value, ConnectError> {
        let url = format!("{}{path}", self.base);
        let answer = self
            .caller
            .send(
                |http| {
                    let request = http.request(method.clone(), &url).query(query);
                    match &body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                },
                AfterWrite::No,
            )
            .await
            .map_err(|e| ConnectError::Transient(e.to_string()))?;
        if answer.status.is_success() {
            return Ok(answer.body);
        }
        let message = answer.body["error"]["message"]
            .as_str()
            .map_or_else(|| answer.text.clone(), str::to_owned);
        Err(match answer.status.as_u16() {
            408 | 429 | 500..=599 => {
                ConnectError::Transient(format!("{}: {message}", answer.status))
            }
            _ => ConnectError::Rejected(format!("{method} {path}: {}: {message}", answer.status)),
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ConnectError> {
        self.call(reqwest::Method::GET, path, query, None).await
    }

    /// The configuration's service principal, job, rule and scope.
    async fn job(&self) -> Result<Job, ConnectError> {
        let mut found = self.job.lock().await;
        if let Some(job) = found.as_ref() {
            return Ok(job.clone());
        }
        let filter = format!("applicationTemplateId eq '{APP_TEMPLATE_ID}'");
        let principals = self
            .get("/servicePrincipals", &[("$filter", filter)])
            .await?;
        let principals = objects(&principals, "GET servicePrincipals")?;
        let principal = principals
            .iter()
            .find(|p| {
                p.get("displayName")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&self.configuration))
            })
            .ok_or_else(|| {
                let names: Vec<&str> = principals
                    .iter()
                    .filter_map(|p| p.get("displayName").and_then(Value::as_str))
                    .collect();
                ConnectError::Rejected(format!(
                    "no Cloud Sync configuration named {:?} (the tenant has {names:?})",
                    self.configuration
                ))
            })?;
        let service_principal_id = principal
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ConnectError::Rejected("a service principal without an id".into()))?
            .to_owned();
        let jobs = self
            .get(
                &format!("/servicePrincipals/{service_principal_id}/synchronization/jobs"),
                &[],
            )
            .await?;
        let job_id = objects(&jobs, "GET synchronization/jobs")?
            .iter()
            .find(|j| j.get("templateId").and_then(Value::as_str) == Some(JOB_TEMPLATE_ID))
            .and_then(|j| j.get("id").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| {
                ConnectError::Rejected(format!(
                    "the Cloud Sync configuration {:?} has no {JOB_TEMPLATE_ID} job",
                    self.configuration
                ))
            })?;
        let schema = self
            .get(
                &format!(
                    "/servicePrincipals/{service_principal_id}/synchronization/jobs/{job_id}/schema"
                ),
                &[],
            )
            .await?;
        let (rule_id, scope) =
            answers::rule_and_scope(&as_map(schema, "GET schema")?).map_err(unexpected)?;
        let job = Job {
            service_principal_id,
            job_id,
            rule_id,
            scope,
        };
        *found = Some(job.clone());
        Ok(job)
    }

    fn job_path(job: &Job) -> String {
        format!(
            "/servicePrincipals/{}/synchronization/jobs/{}",
            job.service_principal_id, job.job_id
        )
    }

    async fn state(&self) -> Result<(Job, JobState), ConnectError> {
        let job = self.job().await?;
        let body = self.get(&Self::job_path(&job), &[]).await?;
        let state =
            JobState::read(&as_map(body, "GET synchronization/jobs")?).map_err(unexpected)?;
        Ok((job, state))
    }

    /// What the provisioning log says a run did to each object.
    async fn logged(&self, job: &Job, run_id: Uuid) -> Result<Vec<ObjectResult>, ConnectError> {
        let filter = format!("jobId eq '{}' and cycleId eq '{run_id}'", job.job_id);
        let body = self
            .get(
                "/auditLogs/provisioning",
                &[("$filter", filter), ("$top", LOG_PAGE.to_string())],
            )
            .await?;
        let mut results = Vec::new();
        for entry in objects(&body, "GET auditLogs/provisioning")? {
            if let Some(result) = answers::log_result(&entry).map_err(unexpected)? {
                results.push(result);
            }
        }
        Ok(results)
    }

    async fn provision(
        &self,
        job: &Job,
        object_guid: Uuid,
        dn: &Dn,
    ) -> Result<ObjectResult, ConnectError> {
        let wait = self
            .on_demand
            .lock()
            .await
            .take(tokio::time::Instant::now());
        tokio::time::sleep(wait).await;
        let body = json!({ "parameters": [{
            "ruleId": job.rule_id,
            "subjects": [{ "objectId": dn.to_string(), "objectTypeName": "user" }],
        }]});
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{}/provisionOnDemand", Self::job_path(job)),
                &[],
                Some(body),
            )
            .await?;
        answers::on_demand_result(&as_map(answer, "POST provisionOnDemand")?, object_guid, dn)
            .map_err(unexpected)
    }
}

impl Connect for CloudSync {
    fn sync_client(&self) -> SyncClient {
        SyncClient::CloudSync
    }

    async fn scheduler(&self) -> Result<SchedulerState, ConnectError> {
        let (_, state) = self.state().await?;
        let stopped = state.stopped().is_some();
        Ok(SchedulerState {
            sync_cycle_enabled: state.schedule_active,
            // Graph shows no run in progress, only the last one's end.
            sync_cycle_in_progress: state
                .runs
                .iter()
                .any(|r| r.outcome == RunOutcome::InProgress),
            next_sync_cycle_policy_type: PolicyType::Delta,
            next_sync_cycle_start_time_in_utc: None,
            currently_effective_sync_cycle_interval_seconds: state.interval_seconds,
            staging_mode_enabled: false,
            scheduler_suspended: stopped,
        })
    }

    /// Graph does not say which provisioning agent runs; the sync client is named instead.
    async fn version(&self) -> Result<AgentVersion, ConnectError> {
        self.job().await?;
        Ok(AgentVersion {
            connect_version: "cloud-sync".into(),
        })
    }

    async fn deletion_threshold(&self) -> Result<DeletionThreshold, ConnectError> {
        let (_, state) = self.state().await?;
        Ok(DeletionThreshold {
            enabled: state.deletion_threshold_enabled,
            threshold: state.deletion_threshold,
        })
    }

    async fn scope(&self) -> Result<ConnectorScope, ConnectError> {
        Ok(ConnectorScope {
            included_containers: self.job().await?.scope,
            filter_attribute: None,
        })
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunResult>, ConnectError> {
        let (_, mut state) = self.state().await?;
        state.runs.truncate(limit);
        Ok(state.runs)
    }

    async fn run(&self, run_id: Uuid) -> Result<RunResult, ConnectError> {
        let (job, state) = self.state().await?;
        let mut run = state
            .runs
            .into_iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| {
                ConnectError::Rejected(format!("run {run_id} is no longer the job's last"))
            })?;
        run.objects = self.logged(&job, run_id).await?;
        Ok(run)
    }

    /// Cloud Sync cannot be told to run now: a running job's next scheduled run is waited
    /// for; a paused or quarantined one will not run, and says why.
    async fn start(&self, _policy_type: PolicyType) -> Result<Option<Uuid>, ConnectError> {
        let (_, state) = self.state().await?;
        Err(match state.stopped() {
            Some((code, message)) => ConnectError::Refused {
                code: code.into(),
                message,
            },
            None => ConnectError::Busy(format!(
                "Cloud Sync runs on its schedule (every {} s); its next run is awaited",
                state.interval_seconds
            )),
        })
    }

    /// Provisions each object at once when every one lies in the job's scope; a user outside
    /// it (on its way out, whose deletion on-demand provisioning cannot make) waits for the
    /// schedule.
    async fn provision_on_demand(
        &self,
        located_at: &BTreeMap<Uuid, Dn>,
    ) -> Result<Option<RunResult>, ConnectError> {
        if located_at.is_empty() {
            return Ok(None);
        }
        let (job, state) = self.state().await?;
        if !located_at.values().all(|dn| dn.is_within_any(&job.scope)) {
            return Ok(None);
        }
        if let Some((code, message)) = state.stopped() {
            return Err(ConnectError::Refused {
                code: code.into(),
                message,
            });
        }
        let start_date = time::OffsetDateTime::now_utc();
        let mut objects = Vec::with_capacity(located_at.len());
        for (object_guid, dn) in located_at {
            objects.push(self.provision(&job, *object_guid, dn).await?);
        }
        let count = |outcome| objects.iter().filter(|o| o.outcome == outcome).count() as u32;
        let errors = count(ObjectOutcome::Error);
        Ok(Some(RunResult {
            run_id: Uuid::new_v4(),
            policy_type: PolicyType::Delta,
            outcome: if errors > 0 {
                RunOutcome::CompletedExportErrors
            } else {
                RunOutcome::Success
            },
            start_date,
            end_date: Some(time::OffsetDateTime::now_utc()),
            connectors: vec![ConnectorCounters {
                connector_name: "Cloud Sync (on demand)".into(),
                adds: count(ObjectOutcome::Added),
                updates: count(ObjectOutcome::Updated),
                deletes: count(ObjectOutcome::Deleted),
                errors,
            }],
            objects,
        }))
    }
}
