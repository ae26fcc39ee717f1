//! What Graph's synchronization API answers, read into sync-trigger's terms as plain data:
//! the job's last executions as runs, its quarantine and schedule, the accidental-delete
//! settings, the OUs its rule covers, an on-demand provisioning's answer (whose `key` and
//! `value` are JSON texts inside the JSON), and provisioning-log entries as per-object
//! outcomes (domain-2026.md 1.1). A property a decision needs that is missing is an error.

use detour_contracts::{
    Dn,
    connect_agent::{
        ConnectorCounters, ObjectOutcome, ObjectResult, PolicyType, RunOutcome, RunResult,
    },
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ssh::shapes::{Fields, ShapeError};

const JOB: &str = "GET synchronization/jobs/{id}";
const ON_DEMAND: &str = "POST provisionOnDemand";
const LOG: &str = "GET auditLogs/provisioning";
const SCHEMA: &str = "GET synchronization/jobs/{id}/schema";

fn shape(origin: &'static str, problem: impl Into<String>) -> ShapeError {
    ShapeError {
        cmdlet: origin,
        problem: problem.into(),
    }
}

fn rfc3339(fields: &Fields<'_>, name: &str) -> Result<Option<OffsetDateTime>, ShapeError> {
    match fields.optional(name) {
        None => Ok(None),
        Some(Value::String(text)) => {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(Some)
                .map_err(|_| shape(fields.cmdlet, format!("{name} {text:?}, not a time")))
        }
        Some(other) => Err(shape(fields.cmdlet, format!("{name} {other}, not a time"))),
    }
}

/// The job's state as a scheduler: whether it runs on its schedule, why not, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    /// `Active`, `Paused`, `Quarantine`, `NotRun`, `NotConfigured`.
    pub code: String,
    pub schedule_active: bool,
    pub interval_seconds: u64,
    pub quarantine_reason: Option<String>,
    pub deletion_threshold_enabled: bool,
    pub deletion_threshold: u32,
    /// The newest executions (the last one, and the last successful one when older).
    pub runs: Vec<RunResult>,
}

impl JobState {
    pub fn read(map: &Map<String, Value>) -> Result<Self, ShapeError> {
        let job = Fields::new(JOB, map);
        let status = job.object("status")?;
        let schedule = job.object("schedule")?;
        let quarantine_reason = match status.optional("quarantine") {
            Some(Value::Object(q)) => Fields::new(JOB, q)
                .optional("reason")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        let setting = |name: &str| -> Result<&str, ShapeError> {
            job.objects("synchronizationJobSettings")?
                .into_iter()
                .find(|s| s.text("name").is_ok_and(|n| n.eq_ignore_ascii_case(name)))
                .map(|s| s.text("value"))
                .transpose()?
                .ok_or_else(|| shape(JOB, format!("no {name} among synchronizationJobSettings")))
        };
        let enabled = setting("DeleteThresholdEnabled")?;
        let threshold = setting("DeleteThresholdValue")?;
        let mut runs = Vec::new();
        for name in ["lastExecution", "lastSuccessfulExecution"] {
            if let Some(Value::Object(execution)) = status.optional(name) {
                let run =
                    execution_run(&Fields::new(JOB, execution), quarantine_reason.as_deref())?;
                if !runs.iter().any(|r: &RunResult| r.run_id == run.run_id) {
                    runs.push(run);
                }
            }
        }
        Ok(Self {
            code: status.text("code")?.to_owned(),
            schedule_active: schedule.text("state")?.eq_ignore_ascii_case("active"),
            interval_seconds: iso_duration_seconds(schedule.text("interval")?).ok_or_else(
                || shape(JOB, "a schedule interval that is not an ISO 8601 duration"),
            )?,
            quarantine_reason,
            deletion_threshold_enabled: enabled.eq_ignore_ascii_case("true"),
            deletion_threshold: threshold
                .parse()
                .map_err(|_| shape(JOB, format!("DeleteThresholdValue {threshold:?}")))?,
            runs,
        })
    }

    /// Why the job will not run on its own, when it will not.
    pub fn stopped(&self) -> Option<(&'static str, String)> {
        if self.code.eq_ignore_ascii_case("quarantine") {
            Some((
                "job-quarantined",
                format!(
                    "the Cloud Sync job is in quarantine ({}): an admin must fix the cause and restart it",
                    self.quarantine_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
            ))
        } else if !self.schedule_active || self.code.eq_ignore_ascii_case("paused") {
            Some(("job-paused", "the Cloud Sync job is paused".into()))
        } else {
            None
        }
    }
}

/// One `synchronizationTaskExecution` as a run. A run that failed into a `TooManyDeletes`
/// quarantine stopped at the accidental-delete threshold.
fn execution_run(
    execution: &Fields<'_>,
    quarantine: Option<&str>,
) -> Result<RunResult, ShapeError> {
    let id = execution.text("activityIdentifier")?;
    let run_id = Uuid::parse_str(id)
        .map_err(|_| shape(JOB, format!("activityIdentifier {id:?}, not a GUID")))?;
    let start_date = rfc3339(execution, "timeBegan")?
        .ok_or_else(|| shape(JOB, "an execution without timeBegan"))?;
    let end_date = rfc3339(execution, "timeEnded")?;
    let outcome = match (end_date, execution.text("state")?) {
        (None, _) => RunOutcome::InProgress,
        (Some(_), "Succeeded") => RunOutcome::Success,
        (Some(_), "EntryLevelErrors") => RunOutcome::CompletedExportErrors,
        (Some(_), "Failed") if quarantine == Some("TooManyDeletes") => {
            RunOutcome::StoppedDeletionThresholdExceeded
        }
        (Some(_), "Failed") => RunOutcome::NoStartConnection,
        (Some(_), other) => return Err(shape(JOB, format!("an execution state {other:?}"))),
    };
    Ok(RunResult {
        run_id,
        policy_type: PolicyType::Delta,
        outcome,
        start_date,
        end_date,
        connectors: vec![ConnectorCounters {
            connector_name: "Cloud Sync".into(),
            adds: 0,
            updates: execution.u32("countExported")?,
            deletes: 0,
            errors: execution.u32("countEscrowed")?,
        }],
        objects: Vec::new(),
    })
}

/// `PT40M`, `PT1H30M`, `PT90S`, `P1D`.
fn iso_duration_seconds(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((days, time)) => (days, time),
        None => (rest, ""),
    };
    let mut seconds = 0;
    if !days.is_empty() {
        seconds += days.strip_suffix('D')?.parse::<u64>().ok()? * 86_400;
    }
    let mut number = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' => number.push(c),
            'H' | 'M' | 'S' => {
                let n: u64 = number.parse().ok()?;
                seconds += n * match c {
                    'H' => 3_600,
                    'M' => 60,
                    _ => 1,
                };
                number.clear();
            }
            _ => return None,
        }
    }
    number.is_empty().then_some(seconds)
}

/// The user rule's id and the OUs it covers, from the job's schema.
pub fn rule_and_scope(map: &Map<String, Value>) -> Result<(String, Vec<Dn>), ShapeError> {
    let schema = Fields::new(SCHEMA, map);
    let rules = schema.objects("synchronizationRules")?;
    let rule = rules
        .first()
        .ok_or_else(|| shape(SCHEMA, "no synchronizationRules"))?;
    let mut containers = Vec::new();
    if let Some(Value::Object(filter)) = rule.optional("containerFilter") {
        for container in Fields::new(SCHEMA, filter).texts("includedContainers")? {
            containers.push(
                container
                    .parse::<Dn>()
                    .map_err(|e| shape(SCHEMA, format!("a container {container:?}: {e}")))?,
            );
        }
    }
    Ok((rule.text("id")?.to_owned(), containers))
}

/// What one on-demand provisioning did to the object at `dn` (with `object_guid`), from its
/// answer: `key` says Success, Skipped or Failure; `value` holds the action and the identities.
pub fn on_demand_result(
    answer: &Map<String, Value>,
    object_guid: Uuid,
    dn: &Dn,
) -> Result<ObjectResult, ShapeError> {
    let outer = Fields::new(ON_DEMAND, answer);
    let inner = |name: &str| -> Result<Map<String, Value>, ShapeError> {
        let text = outer.text(name)?;
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(shape(
                ON_DEMAND,
                format!("a {name} that is not a JSON object in a string"),
            )),
        }
    };
    let key = inner("key")?;
    let value = inner("value")?;
    let key = Fields::new(ON_DEMAND, &key);
    let value = Fields::new(ON_DEMAND, &value);
    let detail = key
        .optional("details")
        .and_then(|d| d.get("reportableError").or_else(|| d.get("errorCode")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let (outcome, detail) = match (key.text("result")?, value.text("action")?) {
        ("Success", "Create") => (
            ObjectOutcome::Added,
            "created in the cloud by on-demand provisioning".to_owned(),
        ),
        ("Success", "Delete") => (
            ObjectOutcome::Deleted,
            "deleted by on-demand provisioning".to_owned(),
        ),
        ("Success", _) => (
            ObjectOutcome::Updated,
            "updated by on-demand provisioning".to_owned(),
        ),
        ("Skipped", _) => (
            ObjectOutcome::Updated,
            format!("nothing to change ({detail})"),
        ),
        ("Failure", _) => (ObjectOutcome::Error, detail),
        (other, _) => return Err(shape(ON_DEMAND, format!("a result {other:?}"))),
    };
    let cloud_object_id = value
        .optional("targetIdentity")
        .and_then(|t| t.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok());
    Ok(ObjectResult {
        object_guid,
        distinguished_name: dn.to_string(),
        outcome,
        cloud_object_id,
        detail,
    })
}

/// A provisioning-log entry as a per-object outcome; `None` for one about no AD object.
pub fn log_result(map: &Map<String, Value>) -> Result<Option<ObjectResult>, ShapeError> {
    let entry = Fields::new(LOG, map);
    let source = entry.object("sourceIdentity")?;
    let Ok(object_guid) = source.uuid("id") else {
        return Ok(None);
    };
    let status = entry.object("provisioningStatusInfo")?;
    let reason = status
        .optional("errorInformation")
        .and_then(|e| e.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let outcome = match (status.text("status")?, entry.text("provisioningAction")?) {
        ("failure", _) => ObjectOutcome::Error,
        ("skipped", _) => ObjectOutcome::Filtered,
        (_, "create") => ObjectOutcome::Added,
        (_, "delete" | "stagedDelete" | "disable") => ObjectOutcome::Deleted,
        (_, _) => ObjectOutcome::Updated,
    };
    let cloud_object_id = entry
        .optional("targetIdentity")
        .and_then(|t| t.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok());
    Ok(Some(ObjectResult {
        object_guid,
        distinguished_name: source
            .optional("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        outcome,
        cloud_object_id,
        detail: if reason.is_empty() {
            entry.text("provisioningAction")?.to_owned()
        } else {
            reason
        },
    }))
}

#[cfg(test)]
mod tests;
