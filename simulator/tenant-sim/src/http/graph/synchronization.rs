//! Graph's synchronization API as a Cloud Sync tenant serves it (domain-2026.md 1.1): the
//! configuration's service principal, its `AD2AADProvisioning` job (schedule, status with the
//! last execution and quarantine, settings), the job's schema with the rule and the OUs in
//! scope, `provisionOnDemand` (scoping filters not applied; its answer's `key` and `value`
//! are JSON strings; 5 requests per 10 s), `start`, and the provisioning log.

use std::{collections::HashMap, sync::Arc};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use detour_contracts::connect_agent::{ObjectOutcome, ObjectResult, RunOutcome, RunResult};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{bad_request, directory::respond, guard, without_annotations};
use crate::{
    app::Sim,
    http::{graph_error, no_scenario, rfc3339},
    world::{
        World, WorldError,
        cloud_sync::{APP_TEMPLATE_ID, CloudSync, JOB_TEMPLATE_ID},
    },
};

fn job_of<'a>(world: &'a World, sp: &str, job: Option<&str>) -> Result<&'a CloudSync, WorldError> {
    let cloud_sync = world
        .connect
        .cloud_sync
        .as_ref()
        .filter(|c| c.service_principal_id.to_string().eq_ignore_ascii_case(sp))
        .ok_or_else(|| WorldError::NotFound(sp.to_owned()))?;
    match job {
        Some(job) if !job.eq_ignore_ascii_case(&cloud_sync.job_id) => {
            Err(WorldError::NotFound(job.to_owned()))
        }
        _ => Ok(cloud_sync),
    }
}

fn service_principal_json(job: &CloudSync) -> Value {
    json!({
        "id": job.service_principal_id,
        "appId": job.app_id,
        "displayName": job.display_name,
        "applicationTemplateId": APP_TEMPLATE_ID,
        "servicePrincipalType": "Application",
        "accountEnabled": true,
    })
}

/// `GET /servicePrincipals` with `$filter=applicationTemplateId eq '...'` or `displayName eq
/// '...'` (what finding the configuration takes).
pub(in crate::http) async fn list_service_principals(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let Some(filter) = query.get("$filter") else {
        return bad_request("This simulator lists service principals by $filter only.");
    };
    let Some((property, value)) = equality(filter) else {
        return bad_request(&format!("Unsupported filter: {filter}"));
    };
    respond(&sim, |world| {
        let matches = world
            .connect
            .cloud_sync
            .iter()
            .filter(|job| match property.as_str() {
                "applicationTemplateId" => value.eq_ignore_ascii_case(APP_TEMPLATE_ID),
                "displayName" => value.eq_ignore_ascii_case(&job.display_name),
                _ => false,
            });
        Ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals",
            "value": matches.map(service_principal_json).collect::<Vec<_>>(),
        }))
    })
}

/// `name eq 'value'`, quotes doubled inside as OData writes them.
fn equality(filter: &str) -> Option<(String, String)> {
    let (name, rest) = filter.trim().split_once(" eq ")?;
    let value = rest.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((name.trim().to_owned(), value.replace("''", "'")))
}

fn execution_json(run: &RunResult) -> Value {
    let counters = run.connectors.first();
    let exported = counters.map_or(0, |c| c.adds + c.updates + c.deletes);
    let state = match run.outcome {
        RunOutcome::Success => "Succeeded",
        RunOutcome::CompletedExportErrors => "EntryLevelErrors",
        _ => "Failed",
    };
    json!({
        "activityIdentifier": run.run_id,
        "countEntitled": run.objects.len(),
        "countEntitledForProvisioning": run.objects.len(),
        "countEscrowed": counters.map_or(0, |c| c.errors),
        "countEscrowedRaw": counters.map_or(0, |c| c.errors),
        "countExported": exported,
        "countExports": exported,
        "countImported": run.objects.len(),
        "countImportedDeltas": run.objects.len(),
        "countImportedReferenceDeltas": 0,
        "error": null,
        "state": state,
        "timeBegan": rfc3339(run.start_date),
        "timeEnded": run.end_date.map(rfc3339),
    })
}

fn job_json(world: &World, job: &CloudSync) -> Value {
    let connect = &world.connect;
    let completed: Vec<&RunResult> = connect
        .runs
        .iter()
        .filter(|r| r.outcome != RunOutcome::InProgress)
        .collect();
    let last = completed.last().map(|r| execution_json(r));
    let last_success = completed
        .iter()
        .rev()
        .find(|r| r.outcome == RunOutcome::Success)
        .map(|r| execution_json(r));
    let code = if job.quarantined {
        "Quarantine"
    } else if job.paused {
        "Paused"
    } else if completed.is_empty() {
        "NotRun"
    } else {
        "Active"
    };
    let quarantine = job.quarantine_reason.as_ref().filter(|_| job.quarantined).map(|reason| {
        json!({ "currentBegan": null, "nextAttempt": null, "reason": reason, "seriesBegan": null, "seriesCount": 1 })
    });
    // ISO 8601, in minutes where whole (the documented jobs show `PT40M`).
    let seconds = connect.interval_seconds;
    let interval = if seconds > 0 && seconds.is_multiple_of(60) {
        format!("PT{}M", seconds / 60)
    } else {
        format!("PT{seconds}S")
    };
    json!({
        "id": job.job_id,
        "templateId": JOB_TEMPLATE_ID,
        "schedule": {
            "expiration": null,
            "interval": interval,
            "state": if job.paused { "Paused" } else { "Active" },
        },
        "status": {
            "code": code,
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": false,
            "lastExecution": last,
            "lastSuccessfulExecution": last_success,
            "lastSuccessfulExecutionWithExports": last_success,
            "progress": [],
            "quarantine": quarantine,
            "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
            "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
            "synchronizedEntryCountByType": [],
            "troubleshootingUrl": null,
        },
        // The accidental-delete settings (the SyncNotificationSettings secret holds them too,
        // and Graph lets a secret be written but never read back).
        "synchronizationJobSettings": [
            { "name": "DeleteThresholdEnabled", "value": connect.deletion_threshold_enabled.to_string() },
            { "name": "DeleteThresholdValue", "value": connect.deletion_threshold.to_string() },
        ],
    })
}

pub(in crate::http) async fn list_jobs(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path(sp): Path<String>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let job = job_of(world, &sp, None)?;
        Ok(json!({ "value": [job_json(world, job)] }))
    })
}

pub(in crate::http) async fn get_job(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((sp, job)): Path<(String, String)>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let found = job_of(world, &sp, Some(&job))?;
        Ok(job_json(world, found))
    })
}

pub(in crate::http) async fn schema(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((sp, job)): Path<(String, String)>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    respond(&sim, |world| {
        let found = job_of(world, &sp, Some(&job))?;
        let containers: Vec<String> = world
            .connect
            .scope_ous
            .iter()
            .map(ToString::to_string)
            .collect();
        Ok(json!({
            "id": found.job_id,
            "version": "Date:2026-12-01",
            "synchronizationRules": [{
                "id": found.rule_id,
                "name": "AD2AADProvisioning",
                "sourceDirectoryName": "Active Directory",
                "targetDirectoryName": "Azure Active Directory",
                "editable": true,
                "containerFilter": { "includedContainers": containers },
                "groupFilter": { "includedGroups": [] },
                "objectMappings": [{ "name": "Provision Active Directory users", "sourceObjectName": "user", "targetObjectName": "User", "enabled": true }],
            }],
            "directories": [],
        }))
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OnDemand {
    parameters: Vec<OnDemandParameters>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OnDemandParameters {
    rule_id: String,
    subjects: Vec<Subject>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Subject {
    object_id: String,
    object_type_name: String,
}

pub(in crate::http) async fn provision_on_demand(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((sp, job)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let Ok(request) = without_annotations::<OnDemand>(&body) else {
        return bad_request(
            "Expected {\"parameters\":[{\"ruleId\":\"...\",\"subjects\":[{\"objectId\":\"<DN>\",\"objectTypeName\":\"user\"}]}]}.",
        );
    };
    let rule =
        match sim.with_world(|world| job_of(world, &sp, Some(&job)).map(|j| j.rule_id.clone())) {
            Ok(Ok(rule)) => rule,
            Ok(Err(error)) => return super::world_error(error),
            Err(none) => return no_scenario(none),
        };
    // One subject, of the one rule: what the portal and the API accept.
    let [parameters] = request.parameters.as_slice() else {
        return bad_request("provisionOnDemand takes one parameters entry.");
    };
    if parameters.rule_id != rule {
        return bad_request(&format!("No synchronization rule {}.", parameters.rule_id));
    }
    let [subject] = parameters.subjects.as_slice() else {
        return bad_request("provisionOnDemand takes one subject.");
    };
    if !subject.object_type_name.eq_ignore_ascii_case("user") {
        return bad_request("This simulator provisions users on demand.");
    }
    let result = match sim.provision_on_demand(&subject.object_id).await {
        Ok(Ok(result)) => result,
        Ok(Err(wait)) => {
            let mut response = graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests: provisionOnDemand allows 5 requests per 10 seconds.",
                Vec::new(),
            );
            let seconds = wait.whole_seconds().max(1);
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds as u64));
            return response;
        }
        Err(none) => return no_scenario(none),
    };
    let object = result.objects.first();
    let (verdict, action, error) = match object.map(|o| o.outcome) {
        Some(ObjectOutcome::Added) => ("Success", "Create", None),
        Some(ObjectOutcome::Updated | ObjectOutcome::Matched) => ("Success", "Update", None),
        Some(ObjectOutcome::Deleted) => ("Success", "Delete", None),
        Some(ObjectOutcome::Filtered) | None => ("Skipped", "Other", Some("RedundantExport")),
        Some(ObjectOutcome::Error) => ("Failure", "Other", Some("SyncFailure")),
    };
    let detail = object.map_or_else(String::new, |o| o.detail.clone());
    let key = json!({
        "result": verdict,
        "details": error.map_or_else(|| json!({}), |code| json!({ "errorCode": code, "reportableError": detail })),
    });
    let value = json!({
        "provisioningSteps": [
            { "name": "EntryImportAdd", "type": "Import", "status": "Success", "description": format!("Retrieved {} from Active Directory", subject.object_id), "timestamp": rfc3339(result.start_date), "details": {} },
            { "name": "EntrySynchronizationScoping", "type": "Scoping", "status": "Success", "description": "Scoping filters are not applied to on-demand provisioning", "timestamp": rfc3339(result.start_date), "details": {} },
            { "name": "EntryExportUpdate", "type": "Export", "status": if verdict == "Failure" { "Failure" } else { "Success" }, "description": detail, "timestamp": rfc3339(result.start_date), "details": {} },
        ],
        "modifiedProperties": [],
        "action": action,
        "changeId": result.run_id,
        "statusInfo": { "status": verdict },
        "sourceIdentity": {
            "id": object.map(|o| o.object_guid),
            "identityType": "user",
            "details": { "DistinguishedName": subject.object_id },
        },
        "targetIdentity": {
            "id": object.and_then(|o| o.cloud_object_id),
            "identityType": "User",
            "details": {},
        },
        "startTime": rfc3339(result.start_date),
        "endTime": result.end_date.map(rfc3339),
    });
    (
        StatusCode::OK,
        axum::Json(json!({
            "@odata.type": "#microsoft.graph.stringKeyStringValuePair",
            "key": key.to_string(),
            "value": value.to_string(),
        })),
    )
        .into_response()
}

/// `start`: resumes a paused job or lifts its quarantine; no body, `204`.
pub(in crate::http) async fn start(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Path((sp, job)): Path<(String, String)>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let started = sim.with_world(|world| {
        job_of(world, &sp, Some(&job))?;
        if let Some(job) = world.connect.cloud_sync.as_mut() {
            job.paused = false;
            job.quarantined = false;
            job.quarantine_reason = None;
        }
        Ok::<_, WorldError>(())
    });
    match started {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(error)) => super::world_error(error),
        Err(none) => no_scenario(none),
    }
}

fn log_entry(job: &CloudSync, run: &RunResult, object: &ObjectResult) -> Value {
    let (action, status) = match object.outcome {
        ObjectOutcome::Added => ("create", "success"),
        ObjectOutcome::Updated | ObjectOutcome::Matched => ("update", "success"),
        ObjectOutcome::Deleted => ("delete", "success"),
        ObjectOutcome::Filtered => ("other", "skipped"),
        ObjectOutcome::Error => ("other", "failure"),
    };
    let at = run.end_date.unwrap_or(run.start_date);
    json!({
        "id": format!("{}-{}", run.run_id, object.object_guid),
        "activityDateTime": rfc3339(at),
        "changeId": run.run_id,
        "cycleId": run.run_id,
        "durationInMilliseconds": 100,
        "initiatedBy": { "id": "", "displayName": "Microsoft.Azure.SyncFabric", "initiatorType": "system" },
        "jobId": job.job_id,
        "modifiedProperties": [],
        "provisioningAction": action,
        "provisioningStatusInfo": {
            "status": status,
            "errorInformation": (status == "failure").then(|| json!({ "errorCode": "SyncFailure", "reason": object.detail })),
        },
        "provisioningSteps": [{ "name": "EntryExport", "provisioningStepType": "export", "status": status, "description": object.detail }],
        "servicePrincipal": { "id": job.service_principal_id, "displayName": job.display_name },
        "sourceIdentity": { "id": object.object_guid, "displayName": object.distinguished_name, "identityType": "user", "details": {} },
        "sourceSystem": { "id": "", "displayName": "Active Directory", "details": {} },
        "targetIdentity": { "id": object.cloud_object_id, "displayName": "", "identityType": "User", "details": {} },
        "targetSystem": { "id": "", "displayName": "Entra ID", "details": {} },
    })
}

/// `GET /auditLogs/provisioning`, newest first, with `$filter` on `jobId`, `cycleId` or
/// `changeId` (`eq`, joined by `and`) and `$top`.
pub(in crate::http) async fn provisioning_log(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = guard(&sim, &headers) {
        return response;
    }
    let mut wanted = Vec::new();
    if let Some(filter) = query.get("$filter") {
        for clause in filter.split(" and ") {
            match equality(clause) {
                Some((name, value))
                    if ["jobId", "cycleId", "changeId"].contains(&name.as_str()) =>
                {
                    wanted.push((name, value));
                }
                _ => return bad_request(&format!("Unsupported filter: {filter}")),
            }
        }
    }
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => 50,
        Some(Ok(top)) if top > 0 => top,
        Some(_) => return bad_request("$top must be a positive number."),
    };
    respond(&sim, |world| {
        let Some(job) = world.connect.cloud_sync.as_ref() else {
            return Ok(json!({ "value": [] }));
        };
        let mut runs: Vec<&RunResult> = world
            .connect
            .runs
            .iter()
            .filter(|r| r.outcome != RunOutcome::InProgress)
            .chain(job.on_demand.iter())
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.end_date.unwrap_or(r.start_date)));
        let entries: Vec<Value> = runs
            .into_iter()
            .flat_map(|run| run.objects.iter().map(move |o| (run, o)))
            .map(|(run, object)| log_entry(job, run, object))
            .filter(|entry| {
                wanted.iter().all(|(name, value)| {
                    entry[name.as_str()]
                        .as_str()
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
                })
            })
            .take(top)
            .collect();
        Ok(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/provisioning",
            "value": entries,
        }))
    })
}
