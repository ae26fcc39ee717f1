//! The ADSync PowerShell module as a Connect server's shell answers it, over the simulated
//! sync engine: each cmdlet's output objects as `ConvertTo-Json` renders them in Windows
//! PowerShell 5.1 (the module's host), so a client parses what a real server prints.
//!
//! Microsoft's ADSync reference gives each cmdlet's syntax and only `System.Object` for its
//! output [S-ADSync]; the property names and shapes here follow what the module is seen to
//! print: `Get-ADSyncScheduler` (AllowedSyncCycleInterval ... SyncCycleInProgress, [S18]
//! and the Exchange team's 2018 post), `Get-ADSyncRunProfileResult -RunStepDetails`
//! (RunHistoryId, ConnectorName, RunProfileName, IsRunComplete, Result, StartDate, EndDate,
//! RunStepResults with ExportAdd/ExportUpdate/ExportDelete/ExportFailure, as the Laparoscope
//! module documents it), `Get-ADSyncCSObject` (ObjectId ... HasExportError, ExportError,
//! ConnectedMVObjectId), and Windows PowerShell's own rendering: a DateTime as `/Date(ms)/`,
//! an enum as its number, a TimeSpan as an object of its parts.
//!
//! [S-ADSync]: learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync

pub mod shell;

use detour_contracts::{
    Dn,
    connect_agent::{ObjectOutcome, PolicyType, RunOutcome, RunResult},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::world::World;

/// One cmdlet call as the shell hands it to the simulator: the cmdlet's name and its bound
/// parameters (a switch is `true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    pub cmdlet: String,
    pub parameters: Map<String, Value>,
}

/// What the cmdlet wrote: its output objects, or the error PowerShell prints on stderr.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer {
    Output(Vec<Value>),
    Error(String),
}

/// The connectors a simulated server has: the AD one named after the domain (as the wizard
/// names it), and the cloud one.
#[derive(Debug, Clone)]
pub struct Connectors {
    pub ad: String,
    pub aad: String,
}

/// `DC=corp,DC=example,DC=com` (or any DN beneath it) → `corp.example.com`.
pub fn domain_of(dn: &str) -> String {
    dn.split(',')
        .filter_map(|rdn| {
            let (kind, value) = rdn.trim().split_once('=')?;
            kind.eq_ignore_ascii_case("DC").then_some(value)
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Connectors {
    pub fn of(search_base: &str, initial_domain: &str) -> Self {
        Self {
            ad: domain_of(search_base),
            aad: format!("{initial_domain} - AAD"),
        }
    }

    fn id(name: &str) -> Uuid {
        // Stable per name, as a connector's identifier is per installation.
        let mut bytes = [0u8; 16];
        for (i, b) in name.bytes().enumerate() {
            bytes[i % 16] = bytes[i % 16].wrapping_mul(31).wrapping_add(b);
        }
        Uuid::from_bytes(bytes)
    }
}

/// Parameters a cmdlet accepts; anything else is PowerShell's own "parameter cannot be found".
fn check_parameters(invocation: &Invocation, allowed: &[&str]) -> Result<(), String> {
    match invocation
        .parameters
        .keys()
        .find(|name| !allowed.iter().any(|a| a.eq_ignore_ascii_case(name)))
    {
        Some(name) => Err(format!(
            "{} : A parameter cannot be found that matches parameter name '{name}'.",
            invocation.cmdlet
        )),
        None => Ok(()),
    }
}

fn parameter<'a>(invocation: &'a Invocation, name: &str) -> Option<&'a Value> {
    invocation
        .parameters
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn text_parameter<'a>(invocation: &'a Invocation, name: &str) -> Result<&'a str, String> {
    match parameter(invocation, name) {
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!(
            "{} : Cannot bind parameter '{name}': '{other}' is not a string.",
            invocation.cmdlet
        )),
        None => Err(format!(
            "{} : Missing an argument for parameter '{name}'.",
            invocation.cmdlet
        )),
    }
}

/// The policy type `Start-ADSyncSyncCycle -PolicyType` names.
pub fn policy_type(invocation: &Invocation) -> Result<PolicyType, String> {
    check_parameters(invocation, &["PolicyType"])?;
    match text_parameter(invocation, "PolicyType")?
        .to_ascii_lowercase()
        .as_str()
    {
        "delta" => Ok(PolicyType::Delta),
        "initial" => Ok(PolicyType::Initial),
        other => Err(format!(
            "Start-ADSyncSyncCycle : Cannot bind parameter 'PolicyType'. Cannot convert value \"{other}\" to type \"Microsoft.IdentityManagement.PowerShell.ObjectModel.SynchronizationPolicyType\"."
        )),
    }
}

/// Windows PowerShell's `ConvertTo-Json` of a DateTime.
fn date(at: OffsetDateTime) -> Value {
    Value::String(format!("/Date({})/", at.unix_timestamp_nanos() / 1_000_000))
}

/// ... and of a TimeSpan.
fn timespan(seconds: u64) -> Value {
    let s = seconds as f64;
    json!({
        "Ticks": seconds * 10_000_000,
        "Days": seconds / 86_400,
        "Hours": (seconds / 3_600) % 24,
        "Milliseconds": 0,
        "Minutes": (seconds / 60) % 60,
        "Seconds": seconds % 60,
        "TotalDays": s / 86_400.0,
        "TotalHours": s / 3_600.0,
        "TotalMilliseconds": s * 1_000.0,
        "TotalMinutes": s / 60.0,
        "TotalSeconds": s,
    })
}

/// The SynchronizationPolicyType enum's numbers (Unspecified 0, Delta 1, Initial 2).
fn policy_number(policy: PolicyType) -> u8 {
    match policy {
        PolicyType::Delta => 1,
        PolicyType::Initial => 2,
    }
}

pub fn scheduler(world: &World, now: OffsetDateTime) -> Vec<Value> {
    let connect = &world.connect;
    let interval = connect.interval_seconds;
    vec![json!({
        "AllowedSyncCycleInterval": timespan(interval.max(1_800)),
        "CurrentlyEffectiveSyncCycleInterval": timespan(interval),
        "CustomizedSyncCycleInterval": null,
        "NextSyncCyclePolicyType": policy_number(connect.next_policy_type),
        "NextSyncCycleStartTimeInUTC": date(now + time::Duration::seconds(interval as i64)),
        "PurgeRunHistoryInterval": timespan(7 * 86_400),
        "SyncCycleEnabled": connect.sync_cycle_enabled,
        "MaintenanceEnabled": true,
        "StagingModeEnabled": connect.staging_mode_enabled,
        "SchedulerSuspended": connect.scheduler_suspended,
        "SyncCycleInProgress": connect.running.is_some(),
    })]
}

/// Empty while idle; the busy connector while a cycle runs [S18].
pub fn connector_run_status(world: &World, connectors: &Connectors) -> Vec<Value> {
    match world.connect.running {
        None => Vec::new(),
        Some(_) => vec![json!({
            "ConnectorIdentifier": Connectors::id(&connectors.ad),
            "ConnectorName": connectors.ad,
            "RunState": 1,
        })],
    }
}

/// The deletion threshold as the cmdlet prints it; `DeletionPrevention` is 0 (disabled), 1
/// (by count) or 2 (by percentage), as Graph's deletion prevention types number them.
pub fn export_deletion_threshold(world: &World) -> Vec<Value> {
    let connect = &world.connect;
    vec![json!({
        "ThresholdPercentage": 0,
        "ThresholdCount": connect.deletion_threshold,
        "DeletionPrevention": u8::from(connect.deletion_threshold_enabled),
    })]
}

pub fn global_settings(world: &World) -> Vec<Value> {
    let parameter = |name: &str, value: Value| json!({ "Name": name, "Value": value, "Scope": 0 });
    vec![json!({
        "SqlSchemaVersion": 616,
        "InstanceId": Connectors::id("instance"),
        "Version": 1,
        "Parameters": [
            parameter("Microsoft.Synchronize.ServerConfigurationVersion", json!(world.connect.version)),
            parameter("Microsoft.Synchronize.StagingMode", json!(world.connect.staging_mode_enabled.to_string())),
            parameter("Microsoft.OptionalFeature.ExportDeletionThreshold", json!(world.connect.deletion_threshold_enabled.to_string())),
            parameter("Microsoft.OptionalFeature.ExportDeletionThresholdValue", json!(world.connect.deletion_threshold.to_string())),
        ],
    })]
}

pub fn connector(
    world: &World,
    connectors: &Connectors,
    invocation: &Invocation,
) -> Result<Vec<Value>, String> {
    check_parameters(invocation, &["Name"])?;
    let name = text_parameter(invocation, "Name")?;
    let partition = |dn: &str, containers: Vec<String>| {
        json!({
            "Name": dn,
            "DN": dn,
            "ConnectorPartitionScope": {
                "ContainerInclusionList": containers,
                "ContainerExclusionList": [],
            },
        })
    };
    if name.eq_ignore_ascii_case(&connectors.ad) {
        let containers = world
            .connect
            .scope_ous
            .iter()
            .map(ToString::to_string)
            .collect();
        let domain = connectors
            .ad
            .split('.')
            .map(|dc| format!("DC={dc}"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(vec![json!({
            "Name": connectors.ad,
            "Identifier": Connectors::id(&connectors.ad),
            "Type": "AD",
            "Partitions": [partition(&domain, containers)],
        })])
    } else if name.eq_ignore_ascii_case(&connectors.aad) {
        Ok(vec![json!({
            "Name": connectors.aad,
            "Identifier": Connectors::id(&connectors.aad),
            "Type": "Extensible2",
            "Partitions": [partition("default", Vec::new())],
        })])
    } else {
        Err(format!(
            "Get-ADSyncConnector : Unable to find connector with name '{name}'."
        ))
    }
}

/// A cycle's six run profiles, in the order Connect runs them: import both, synchronize
/// both, export to the cloud, export to AD [S18].
const STEPS: [(bool, &str); 6] = [
    (true, "Import"),
    (false, "Import"),
    (true, "Synchronization"),
    (false, "Synchronization"),
    (false, "Export"),
    (true, "Export"),
];

fn step_id(run_id: Uuid, step: usize) -> Uuid {
    let mut bytes = *run_id.as_bytes();
    bytes[15] = bytes[15].wrapping_add(step as u8 + 1);
    Uuid::from_bytes(bytes)
}

/// What one simulated cycle looks like in the run history: one result per run profile,
/// newest first. A cycle still running shows its first import in progress; one that could
/// not reach AD stops there; a threshold stop ends at the cloud export.
fn run_profile_results(run: &RunResult, number: usize, connectors: &Connectors) -> Vec<Value> {
    let last_step = match run.outcome {
        RunOutcome::InProgress | RunOutcome::NoStartConnection => 0,
        RunOutcome::StoppedDeletionThresholdExceeded => 4,
        RunOutcome::Success | RunOutcome::CompletedExportErrors => 5,
    };
    let end = run.end_date.unwrap_or(run.start_date);
    // Each step takes a sixth of the cycle, at least a millisecond, as real steps do.
    let span: time::Duration = (end - run.start_date) / 6;
    let span = span.max(time::Duration::milliseconds(1));
    let kind = match run.policy_type {
        PolicyType::Delta => "Delta",
        PolicyType::Initial => "Full",
    };
    let counters = run.connectors.first();
    (0..=last_step)
        .map(|step| {
            let (on_ad, profile) = STEPS[step];
            let connector = if on_ad {
                &connectors.ad
            } else {
                &connectors.aad
            };
            let profile_name = match profile {
                "Export" => "Export".to_owned(),
                other => format!("{kind} {other}"),
            };
            let started = run.start_date + span * step as i32;
            let ended = started + span;
            let complete = run.outcome != RunOutcome::InProgress;
            let result = match (run.outcome, step) {
                (RunOutcome::InProgress, _) => "in-progress",
                (RunOutcome::NoStartConnection, _) => "no-start-connection",
                (RunOutcome::StoppedDeletionThresholdExceeded, 4) => {
                    "stopped-deletion-threshold-exceeded"
                }
                (RunOutcome::CompletedExportErrors, 4) => "completed-export-errors",
                _ => "success",
            };
            let exports = |pick: fn(&detour_contracts::connect_agent::ConnectorCounters) -> u32| {
                if step == 4 {
                    counters.map_or(0, pick)
                } else {
                    0
                }
            };
            let id = step_id(run.run_id, step);
            json!({
                "RunHistoryId": id,
                "ConnectorId": Connectors::id(connector),
                "ConnectorName": connector,
                "RunProfileId": Connectors::id(&profile_name),
                "RunProfileName": profile_name,
                "RunNumber": number,
                "Username": "NT SERVICE\\ADSync",
                "IsRunComplete": complete,
                "Result": result,
                "CurrentStepNumber": 1,
                "TotalSteps": 1,
                "StartDate": date(started),
                "EndDate": if complete { date(ended) } else { Value::Null },
                "RunStepResults": [{
                    "RunHistoryId": id,
                    "StepHistoryId": step_id(id, 0),
                    "StepNumber": 1,
                    "StepResult": result,
                    "StartDate": date(started),
                    "EndDate": if complete { date(ended) } else { Value::Null },
                    "StageNoChange": 0,
                    "StageAdd": 0,
                    "StageUpdate": 0,
                    "StageDelete": 0,
                    "ExportAdd": exports(|c| c.adds),
                    "ExportUpdate": exports(|c| c.updates),
                    "ExportRename": 0,
                    "ExportDelete": exports(|c| c.deletes),
                    "ExportDeleteAdd": 0,
                    "ExportFailure": exports(|c| c.errors),
                }],
            })
        })
        .collect()
}

pub fn run_profile_result(
    world: &World,
    connectors: &Connectors,
    invocation: &Invocation,
) -> Result<Vec<Value>, String> {
    check_parameters(
        invocation,
        &["NumberRequested", "RunStepDetails", "RunHistoryId"],
    )?;
    let requested = match parameter(invocation, "NumberRequested") {
        None => usize::MAX,
        Some(Value::Number(n)) => n.as_u64().map_or(usize::MAX, |n| n as usize),
        Some(other) => {
            return Err(format!(
                "Get-ADSyncRunProfileResult : Cannot bind parameter 'NumberRequested': '{other}' is not a number."
            ));
        }
    };
    let details = matches!(
        parameter(invocation, "RunStepDetails"),
        Some(Value::Bool(true))
    );
    let wanted = match parameter(invocation, "RunHistoryId") {
        None => None,
        Some(Value::String(id)) => Some(Uuid::parse_str(id).map_err(|_| {
            format!("Get-ADSyncRunProfileResult : Cannot convert value \"{id}\" to type \"System.Guid\".")
        })?),
        Some(other) => {
            return Err(format!(
                "Get-ADSyncRunProfileResult : Cannot bind parameter 'RunHistoryId': '{other}' is not a GUID."
            ));
        }
    };
    let mut results: Vec<Value> = world
        .connect
        .runs
        .iter()
        .enumerate()
        .flat_map(|(index, run)| run_profile_results(run, index + 1, connectors))
        .filter(|result| wanted.is_none_or(|id| result["RunHistoryId"] == json!(id)))
        .collect();
    results.reverse();
    results.truncate(requested);
    if !details {
        for result in &mut results {
            result["RunStepResults"] = Value::Null;
        }
    }
    Ok(results)
}

/// The AD connector's object at a DN: there while the object is in the connector space (or
/// was just refused an export), with the engine's export error on it. (A real server keeps
/// an export error on the cloud connector's object; the simulator shows it on the AD one.)
pub fn cs_object(
    world: &World,
    connectors: &Connectors,
    invocation: &Invocation,
) -> Result<Vec<Value>, String> {
    check_parameters(invocation, &["ConnectorName", "DistinguishedName"])?;
    let connector = text_parameter(invocation, "ConnectorName")?;
    let text = text_parameter(invocation, "DistinguishedName")?;
    if !connector.eq_ignore_ascii_case(&connectors.ad) {
        return Err(format!(
            "Get-ADSyncCSObject : Unable to find connector with name '{connector}'."
        ));
    }
    let dn: Dn = text.parse().map_err(|_| {
        format!("Get-ADSyncCSObject : The distinguished name '{text}' is not valid.")
    })?;
    let at = |other: &str| other.parse::<Dn>().is_ok_and(|o| o.same_as(&dn));
    let latest_error = world
        .connect
        .runs
        .iter()
        .rev()
        .find(|run| run.outcome != RunOutcome::InProgress)
        .and_then(|run| {
            run.objects
                .iter()
                .find(|o| o.outcome == ObjectOutcome::Error && at(&o.distinguished_name))
        });
    let entry = world
        .connect
        .connector_space
        .values()
        .find(|entry| at(&entry.distinguished_name));
    let object_guid = match (entry, latest_error) {
        (Some(entry), _) => entry.object_guid,
        (None, Some(error)) => error.object_guid,
        (None, None) => return Ok(Vec::new()),
    };
    Ok(vec![json!({
        "ObjectId": step_id(object_guid, 7),
        "ConnectorId": Connectors::id(&connectors.ad),
        "ConnectorName": connectors.ad,
        "ConnectorType": "AD",
        "PartitionId": Connectors::id("partition"),
        "DistinguishedName": text,
        "AnchorValue": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, object_guid.to_bytes_le()),
        "ObjectType": "user",
        "IsTransient": false,
        "IsPlaceHolder": false,
        "IsConnector": true,
        "HasSyncError": false,
        "HasExportError": latest_error.is_some(),
        "ExportError": latest_error.map(|e| json!({ "ErrorType": "ExportError", "ErrorMessage": e.detail })),
        "SynchronizationError": null,
        "ConnectedMVObjectId": step_id(object_guid, 8),
    })])
}
