use serde_json::json;

use super::*;

fn job(status: Value) -> Map<String, Value> {
    json!({
        "id": "AD2AADProvisioning.abc",
        "schedule": { "interval": "PT40M", "state": "Active" },
        "status": status,
        "synchronizationJobSettings": [
            { "name": "DeleteThresholdEnabled", "value": "true" },
            { "name": "DeleteThresholdValue", "value": "500" },
        ],
    })
    .as_object()
    .unwrap()
    .clone()
}

fn execution(id: &str, state: &str, ended: Option<&str>) -> Value {
    json!({ "activityIdentifier": id, "state": state, "timeBegan": "2026-12-01T10:00:00Z",
            "timeEnded": ended, "countExported": 3, "countEscrowed": 0 })
}

#[test]
fn the_jobs_executions_are_its_runs_and_its_settings_its_threshold() {
    let id = "6f4c8d3e-2b1a-4c5d-9e8f-7a6b5c4d3e2f";
    let state = JobState::read(&job(json!({
        "code": "Active",
        "lastExecution": execution(id, "Succeeded", Some("2026-12-01T10:01:00Z")),
        "lastSuccessfulExecution": execution(id, "Succeeded", Some("2026-12-01T10:01:00Z")),
        "quarantine": null,
    })))
    .unwrap();
    assert_eq!(state.interval_seconds, 2_400);
    assert_eq!(state.runs.len(), 1, "the same execution once");
    assert_eq!(state.runs[0].outcome, RunOutcome::Success);
    assert_eq!(state.runs[0].run_id.to_string(), id);
    assert!(state.deletion_threshold_enabled);
    assert_eq!(state.deletion_threshold, 500);
    assert_eq!(state.stopped(), None);
}

#[test]
fn a_too_many_deletes_quarantine_is_the_threshold_stop_and_stops_the_job() {
    let state = JobState::read(&job(json!({
        "code": "Quarantine",
        "lastExecution": execution("6f4c8d3e-2b1a-4c5d-9e8f-7a6b5c4d3e2f", "Failed", Some("2026-12-01T10:01:00Z")),
        "quarantine": { "reason": "TooManyDeletes" },
    })))
    .unwrap();
    assert_eq!(
        state.runs[0].outcome,
        RunOutcome::StoppedDeletionThresholdExceeded
    );
    let (code, reason) = state.stopped().unwrap();
    assert_eq!(code, "job-quarantined");
    assert!(reason.contains("TooManyDeletes"), "{reason}");
}

#[test]
fn a_job_without_its_threshold_settings_is_an_error() {
    let mut map = job(json!({ "code": "Active" }));
    map.remove("synchronizationJobSettings");
    let error = JobState::read(&map).unwrap_err();
    assert!(
        error.to_string().contains("DeleteThresholdEnabled"),
        "{error}"
    );
}

#[test]
fn iso_durations() {
    assert_eq!(iso_duration_seconds("PT40M"), Some(2_400));
    assert_eq!(iso_duration_seconds("PT1H30M"), Some(5_400));
    assert_eq!(iso_duration_seconds("P1DT2S"), Some(86_402));
    assert_eq!(iso_duration_seconds("40 minutes"), None);
}

#[test]
fn on_demand_answers_are_read_from_their_nested_json_texts() {
    let dn: Dn = "CN=Ada,OU=Staff,DC=corp,DC=example,DC=com".parse().unwrap();
    let guid = Uuid::new_v4();
    let cloud = Uuid::new_v4();
    let answer = |key: Value, value: Value| {
        json!({ "key": key.to_string(), "value": value.to_string() })
            .as_object()
            .unwrap()
            .clone()
    };
    let updated = on_demand_result(
        &answer(
            json!({"result": "Success", "details": {}}),
            json!({"action": "Update", "targetIdentity": {"id": cloud}}),
        ),
        guid,
        &dn,
    )
    .unwrap();
    assert_eq!(updated.outcome, ObjectOutcome::Updated);
    assert_eq!(updated.cloud_object_id, Some(cloud));
    let created = on_demand_result(
        &answer(json!({"result": "Success"}), json!({"action": "Create"})),
        guid,
        &dn,
    )
    .unwrap();
    assert_eq!(created.outcome, ObjectOutcome::Added);
    let failed = on_demand_result(
        &answer(json!({"result": "Failure", "details": {"errorCode": "HardMatchBlocked", "reportableError": "blocked"}}), json!({"action": "Other"})),
        guid,
        &dn,
    )
    .unwrap();
    assert_eq!(
        (failed.outcome, failed.detail.as_str()),
        (ObjectOutcome::Error, "blocked")
    );
    let flat = json!({ "key": {"result": "Success"}, "value": "{}" })
        .as_object()
        .unwrap()
        .clone();
    assert!(
        on_demand_result(&flat, guid, &dn).is_err(),
        "key must be a JSON text"
    );
}
