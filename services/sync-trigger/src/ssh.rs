//! The [`Connect`] port over SSH to the Entra Connect server itself: the ADSync cmdlets run
//! by Windows PowerShell there (`powershell`: fixed scripts, values as data), their output
//! read defensively (`shapes`), the run history rebuilt into cycles (`runs`), over one
//! pinned, key-authenticated connection (`session`).

mod powershell;
mod runs;
mod session;
pub(crate) mod shapes;

use std::collections::BTreeMap;

use detour_contracts::{
    Dn,
    connect_agent::{
        AgentVersion, ConnectorScope, DeletionThreshold, ObjectOutcome, ObjectResult, PolicyType,
        RunResult, SchedulerState,
    },
};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Map, Value, json};
use uuid::Uuid;

pub use session::{Target, TransportError};

use crate::connect::{Connect, ConnectError};
use powershell::Script;
use shapes::{Fields, ShapeError};

/// Per-object lookups in flight at once, each a channel of the one connection and a
/// PowerShell process on the server: well under OpenSSH's default of 10 sessions per
/// connection (`MaxSessions`, sshd_config(5)), and few enough for the Connect server's CPU.
const LOOKUPS_AT_ONCE: usize = 4;

/// How many run profile results make one cycle (import, synchronize and export on each of
/// the two connectors) [S18].
const RESULTS_PER_CYCLE: usize = 6;

#[derive(Debug)]
pub struct SshConnect {
    session: session::Session,
    ad_connector: String,
    aad_connector: String,
}

impl SshConnect {
    pub fn new(target: Target, ad_connector: String, aad_connector: String) -> Self {
        Self {
            session: session::Session::new(target),
            ad_connector,
            aad_connector,
        }
    }

    /// Runs `script` with `values` and reads its objects.
    async fn invoke(
        &self,
        script: Script,
        values: Value,
    ) -> Result<Vec<Map<String, Value>>, ConnectError> {
        let output = self
            .session
            .run(&script.command_line(), &script.input(&values))
            .await
            .map_err(|error| match error {
                TransportError::HostKeyMismatch { .. }
                | TransportError::AuthenticationFailed(_) => {
                    ConnectError::Rejected(error.to_string())
                }
                other => ConnectError::Transient(other.to_string()),
            })?;
        if output.exit_status != Some(0) {
            let message = output.stderr.trim().to_owned();
            // Start-ADSyncSyncCycle's "... AAD is busy." [S40]
            if message.to_ascii_lowercase().contains("is busy") {
                return Err(ConnectError::Busy(message));
            }
            return Err(ConnectError::Rejected(format!(
                "{} failed ({}): {message}",
                script.cmdlet,
                output
                    .exit_status
                    .map_or_else(|| "killed".to_owned(), |s| format!("exit {s}"))
            )));
        }
        shapes::objects(script.cmdlet, &output.stdout).map_err(unexpected)
    }

    async fn one(&self, script: Script, values: Value) -> Result<Map<String, Value>, ConnectError> {
        self.invoke(script, values)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                unexpected(ShapeError {
                    cmdlet: script.cmdlet,
                    problem: "nothing".into(),
                })
            })
    }

    async fn cycles(&self, limit: usize) -> Result<Vec<RunResult>, ConnectError> {
        // One more cycle's worth: the oldest listed may be cut off at its start.
        let number = (limit + 1) * RESULTS_PER_CYCLE;
        let results = self
            .invoke(powershell::RUN_HISTORY, json!({ "number": number }))
            .await?
            .iter()
            .map(|map| runs::ProfileResult::read(Fields::new(powershell::RUN_HISTORY.cmdlet, map)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(unexpected)?;
        let mut cycles =
            runs::cycles(results, &self.ad_connector, &self.aad_connector).map_err(unexpected)?;
        cycles.truncate(limit);
        Ok(cycles)
    }

    /// What the AD connector's space says of one object now.
    async fn object_result(
        &self,
        object_guid: Uuid,
        dn: &Dn,
    ) -> Result<ObjectResult, ConnectError> {
        let script = powershell::CS_OBJECT;
        let found = self
            .invoke(
                script,
                json!({ "connector": self.ad_connector, "dn": dn.to_string() }),
            )
            .await?;
        let (outcome, detail) = match found.first() {
            None => (
                ObjectOutcome::Filtered,
                "not in the AD connector's space: out of sync scope".to_owned(),
            ),
            Some(map) => {
                let fields = Fields::new(script.cmdlet, map);
                let error = |name: &str| -> Option<String> {
                    fields.optional(name).map(|e| match e {
                        Value::Object(o) => o
                            .get("ErrorMessage")
                            .or_else(|| o.get("ErrorType"))
                            .map_or_else(
                                || e.to_string(),
                                |m| m.as_str().unwrap_or_default().to_owned(),
                            ),
                        other => other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_owned),
                    })
                };
                if fields.bool("HasExportError").map_err(unexpected)? {
                    (
                        ObjectOutcome::Error,
                        error("ExportError").unwrap_or_else(|| "an export error".into()),
                    )
                } else if fields.bool("HasSyncError").map_err(unexpected)? {
                    (
                        ObjectOutcome::Error,
                        error("SynchronizationError")
                            .unwrap_or_else(|| "a synchronization error".into()),
                    )
                } else if !fields.bool("IsConnector").map_err(unexpected)? {
                    (
                        ObjectOutcome::Filtered,
                        "a disconnector: filtered from sync".into(),
                    )
                } else {
                    (
                        ObjectOutcome::Updated,
                        "joined in the AD connector's space".into(),
                    )
                }
            }
        };
        Ok(ObjectResult {
            object_guid,
            distinguished_name: dn.to_string(),
            outcome,
            cloud_object_id: None,
            detail,
        })
    }
}

fn unexpected(error: ShapeError) -> ConnectError {
    ConnectError::Rejected(error.to_string())
}

impl Connect for SshConnect {
    async fn scheduler(&self) -> Result<SchedulerState, ConnectError> {
        let script = powershell::SCHEDULER;
        let map = self.one(script, Value::Null).await?;
        let f = Fields::new(script.cmdlet, &map);
        let read = || {
            Ok::<_, ShapeError>(SchedulerState {
                sync_cycle_enabled: f.bool("SyncCycleEnabled")?,
                sync_cycle_in_progress: f.bool("SyncCycleInProgress")?,
                next_sync_cycle_policy_type: f.policy_type("NextSyncCyclePolicyType")?,
                next_sync_cycle_start_time_in_utc: f
                    .optional_date("NextSyncCycleStartTimeInUTC")?,
                currently_effective_sync_cycle_interval_seconds: f
                    .seconds("CurrentlyEffectiveSyncCycleInterval")?,
                staging_mode_enabled: f.bool("StagingModeEnabled")?,
                scheduler_suspended: f.bool("SchedulerSuspended")?,
            })
        };
        read().map_err(unexpected)
    }

    async fn version(&self) -> Result<AgentVersion, ConnectError> {
        const VERSION: &str = "Microsoft.Synchronize.ServerConfigurationVersion";
        let script = powershell::GLOBAL_SETTINGS;
        let map = self.one(script, Value::Null).await?;
        let f = Fields::new(script.cmdlet, &map);
        let parameters = f.objects("Parameters").map_err(unexpected)?;
        let version = parameters
            .iter()
            .find(|p| p.text("Name").is_ok_and(|n| n == VERSION))
            .map(|p| p.text("Value"))
            .transpose()
            .map_err(unexpected)?;
        match version {
            Some(version) => Ok(AgentVersion {
                connect_version: version.to_owned(),
            }),
            None => Err(unexpected(ShapeError {
                cmdlet: script.cmdlet,
                problem: format!("no {VERSION} parameter"),
            })),
        }
    }

    async fn deletion_threshold(&self) -> Result<DeletionThreshold, ConnectError> {
        let script = powershell::DELETION_THRESHOLD;
        let map = self.one(script, Value::Null).await?;
        let f = Fields::new(script.cmdlet, &map);
        // DeletionPrevention: 0 disabled, 1 by count, 2 by percentage, as Graph numbers its
        // deletion prevention types; the count is what a batch of descopes is held under.
        let prevention = match f.get("DeletionPrevention").map_err(unexpected)? {
            Value::String(name) => match name.to_ascii_lowercase().as_str() {
                "disabled" => 0,
                "enabledforcount" => 1,
                "enabledforpercentage" => 2,
                _ => u64::MAX,
            },
            other => other.as_u64().unwrap_or(u64::MAX),
        };
        if prevention > 2 {
            return Err(unexpected(ShapeError {
                cmdlet: script.cmdlet,
                problem: format!(
                    "DeletionPrevention {map:?}",
                    map = f.optional("DeletionPrevention")
                ),
            }));
        }
        Ok(DeletionThreshold {
            enabled: prevention != 0,
            threshold: f.u32("ThresholdCount").map_err(unexpected)?,
        })
    }

    async fn scope(&self) -> Result<ConnectorScope, ConnectError> {
        let script = powershell::CONNECTOR;
        let map = self
            .one(script, json!({ "name": self.ad_connector }))
            .await?;
        let f = Fields::new(script.cmdlet, &map);
        let mut included_containers = Vec::new();
        for partition in f.objects("Partitions").map_err(unexpected)? {
            let scope = partition
                .object("ConnectorPartitionScope")
                .map_err(unexpected)?;
            for container in scope.texts("ContainerInclusionList").map_err(unexpected)? {
                included_containers.push(container.parse::<Dn>().map_err(|e| {
                    unexpected(ShapeError {
                        cmdlet: script.cmdlet,
                        problem: format!("a container that is not a DN ({container:?}: {e})"),
                    })
                })?);
            }
        }
        // Scoping filters live in sync rules, which this server's cmdlets are not asked for.
        Ok(ConnectorScope {
            included_containers,
            filter_attribute: None,
        })
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunResult>, ConnectError> {
        self.cycles(limit).await
    }

    async fn run(&self, run_id: Uuid) -> Result<RunResult, ConnectError> {
        self.cycles(crate::cycles::HISTORY)
            .await?
            .into_iter()
            .find(|run| run.run_id == run_id)
            .ok_or_else(|| ConnectError::Rejected(format!("no cycle {run_id} in the run history")))
    }

    /// Started only when the scheduler is neither staging nor suspended and no connector is
    /// running; the server names no run for it (its history will).
    async fn start(&self, policy_type: PolicyType) -> Result<Option<Uuid>, ConnectError> {
        let scheduler = self.scheduler().await?;
        if scheduler.staging_mode_enabled {
            return Err(ConnectError::Refused {
                code: "staging-mode".into(),
                message: "the Connect server is in staging mode: it exports nothing".into(),
            });
        }
        if scheduler.scheduler_suspended {
            return Err(ConnectError::Refused {
                code: "scheduler-suspended".into(),
                message: "the Connect server's scheduler is suspended".into(),
            });
        }
        if scheduler.sync_cycle_in_progress
            || !self
                .invoke(powershell::RUN_STATUS, Value::Null)
                .await?
                .is_empty()
        {
            return Err(ConnectError::Busy("a connector is running".into()));
        }
        let policy = match policy_type {
            PolicyType::Delta => "Delta",
            PolicyType::Initial => "Initial",
        };
        self.invoke(powershell::START_CYCLE, json!({ "policyType": policy }))
            .await?;
        Ok(None)
    }

    async fn object_results(
        &self,
        located_at: &BTreeMap<Uuid, Dn>,
    ) -> Result<Vec<ObjectResult>, ConnectError> {
        // Made first, so the stream holds futures of one lifetime (the map's).
        let lookups: Vec<_> = located_at
            .iter()
            .map(|(object_guid, dn)| self.object_result(*object_guid, dn))
            .collect();
        futures_util::stream::iter(lookups)
            .buffered(LOOKUPS_AT_ONCE)
            .try_collect()
            .await
    }
}
