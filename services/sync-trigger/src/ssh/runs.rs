//! Sync cycles out of `Get-ADSyncRunProfileResult`, as plain data. The server keeps one
//! result per run profile (import, synchronization and export on each connector) and no
//! notion of a cycle, so the cycles are rebuilt: each starts with an import on the AD
//! connector and holds the results that follow it, up to the next one [S18]. A cycle is
//! identified by that import's RunHistoryId, starts when it started, and is done once its
//! export to the cloud has finished, or a later cycle has begun, or it stopped short.

use detour_contracts::connect_agent::{ConnectorCounters, PolicyType, RunOutcome, RunResult};
use time::OffsetDateTime;
use uuid::Uuid;

use super::shapes::{Fields, ShapeError};

const CMDLET: &str = "Get-ADSyncRunProfileResult";

/// One run profile's result, as much of it as cycles need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileResult {
    pub run_history_id: Uuid,
    pub connector_name: String,
    pub run_profile_name: String,
    pub is_run_complete: bool,
    pub result: String,
    pub start_date: OffsetDateTime,
    pub end_date: Option<OffsetDateTime>,
    /// The export counters of its (first) step, when it has any.
    pub exports: Option<ConnectorCounters>,
}

impl ProfileResult {
    pub fn read(fields: Fields<'_>) -> Result<Self, ShapeError> {
        let connector_name = fields.text("ConnectorName")?.to_owned();
        let exports = match fields.objects("RunStepResults")?.first() {
            None => None,
            Some(step) => Some(ConnectorCounters {
                connector_name: connector_name.clone(),
                adds: step.u32("ExportAdd")?,
                updates: step.u32("ExportUpdate")?,
                deletes: step.u32("ExportDelete")?,
                errors: step.u32("ExportFailure")?,
            }),
        };
        Ok(Self {
            run_history_id: fields.uuid("RunHistoryId")?,
            connector_name,
            run_profile_name: fields.text("RunProfileName")?.to_owned(),
            is_run_complete: fields.bool("IsRunComplete")?,
            result: fields.text("Result")?.to_owned(),
            start_date: fields.date("StartDate")?,
            end_date: fields.optional_date("EndDate")?,
            exports,
        })
    }

    fn is(&self, connector: &str, kind: &str) -> bool {
        self.connector_name.eq_ignore_ascii_case(connector)
            && self.run_profile_name.to_ascii_lowercase().contains(kind)
    }
}

/// A run profile result's text as a run outcome. `completed-no-objects` and warnings are
/// clean; the other `completed-*` results finished with errors on some objects; a
/// `stopped-*` or `no-start-*` run exported nothing [FIM run history].
pub fn outcome(result: &str) -> Result<RunOutcome, ShapeError> {
    let result = result.to_ascii_lowercase();
    Ok(match result.as_str() {
        "success" | "completed-no-objects" | "completed-warnings" => RunOutcome::Success,
        "in-progress" => RunOutcome::InProgress,
        "stopped-deletion-threshold-exceeded" => RunOutcome::StoppedDeletionThresholdExceeded,
        r if r.starts_with("completed-") => RunOutcome::CompletedExportErrors,
        r if r.starts_with("stopped-") || r.starts_with("no-start-") => {
            RunOutcome::NoStartConnection
        }
        other => {
            return Err(ShapeError {
                cmdlet: CMDLET,
                problem: format!("a Result it never documented: {other:?}"),
            });
        }
    })
}

/// The cycles among `results` (newest first, as the cmdlet lists them), newest first.
/// Results before the oldest AD import listed belong to a cycle whose start fell out of the
/// window, and are left out.
pub fn cycles(
    mut results: Vec<ProfileResult>,
    ad_connector: &str,
    aad_connector: &str,
) -> Result<Vec<RunResult>, ShapeError> {
    // Oldest first; steps that started within the same millisecond keep the server's order.
    results.reverse();
    results.sort_by_key(|r| r.start_date);
    let mut grouped: Vec<Vec<ProfileResult>> = Vec::new();
    for result in results {
        if result.is(ad_connector, "import") {
            grouped.push(vec![result]);
        } else if let Some(cycle) = grouped.last_mut() {
            cycle.push(result);
        }
    }
    let count = grouped.len();
    let mut cycles = grouped
        .into_iter()
        .enumerate()
        .map(|(index, steps)| cycle(&steps, index + 1 < count, aad_connector))
        .collect::<Result<Vec<_>, _>>()?;
    cycles.reverse();
    Ok(cycles)
}

fn cycle(
    steps: &[ProfileResult],
    followed: bool,
    aad_connector: &str,
) -> Result<RunResult, ShapeError> {
    let first = &steps[0];
    let policy_type = if first
        .run_profile_name
        .to_ascii_lowercase()
        .starts_with("full")
    {
        PolicyType::Initial
    } else {
        PolicyType::Delta
    };
    let outcomes = steps
        .iter()
        .map(|s| outcome(&s.result))
        .collect::<Result<Vec<_>, _>>()?;
    let all_complete = steps.iter().all(|s| s.is_run_complete);
    let export = steps.iter().position(|s| s.is(aad_connector, "export"));
    let stopped_short = outcomes
        .iter()
        .find(|o| !matches!(o, RunOutcome::Success | RunOutcome::InProgress));
    let outcome = if outcomes.contains(&RunOutcome::StoppedDeletionThresholdExceeded) {
        RunOutcome::StoppedDeletionThresholdExceeded
    } else {
        match (export, all_complete) {
            (Some(i), _) if steps[i].is_run_complete => outcomes[i],
            (None, true) if stopped_short.is_some() => {
                stopped_short.copied().unwrap_or(outcomes[0])
            }
            // A cycle with nothing left running that a later one followed never exported.
            (None, true) if followed => RunOutcome::Success,
            _ => RunOutcome::InProgress,
        }
    };
    let end_date = (outcome != RunOutcome::InProgress)
        .then(|| steps.iter().filter_map(|s| s.end_date).max())
        .flatten();
    Ok(RunResult {
        run_id: first.run_history_id,
        policy_type,
        outcome,
        start_date: first.start_date,
        end_date: end_date.or((outcome != RunOutcome::InProgress).then_some(first.start_date)),
        connectors: export
            .and_then(|i| steps[i].exports.clone())
            .into_iter()
            .collect(),
        objects: Vec::new(),
    })
}

#[cfg(test)]
mod tests;
