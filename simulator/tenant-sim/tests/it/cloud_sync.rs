//! A Cloud Sync tenant through Graph's synchronization API, as its documentation shows it:
//! the configuration found by Cloud Sync's app template, the job and its schema, on-demand
//! provisioning (nested JSON answers, scoping not applied, 5 per 10 s), the provisioning
//! log, and a threshold stop that quarantines the job until `start`.

use std::time::Duration;

use detour_testkit::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Harness;

const TEMPLATE: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";

/// The configuration's service principal id and its job's path.
async fn job(sim: &Harness) -> (String, String) {
    let (status, principals) = sim
        .graph(
            Method::GET,
            &format!("/servicePrincipals?$filter=applicationTemplateId%20eq%20'{TEMPLATE}'"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{principals}");
    let principal = &principals["value"][0];
    assert_eq!(principal["displayName"], "corp.example.com");
    let sp = principal["id"].as_str().unwrap().to_owned();
    let (_, jobs) = sim
        .graph(
            Method::GET,
            &format!("/servicePrincipals/{sp}/synchronization/jobs"),
            None,
        )
        .await;
    let job = &jobs["value"][0];
    assert_eq!(job["templateId"], "AD2AADProvisioning");
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("AD2AADProvisioning."), "{id}");
    (
        sp.clone(),
        format!("/servicePrincipals/{sp}/synchronization/jobs/{id}"),
    )
}

async fn on_demand(sim: &Harness, path: &str, rule: &str, dn: &str) -> (u16, Value) {
    let body = json!({ "parameters": [{ "ruleId": rule, "subjects": [{ "objectId": dn, "objectTypeName": "user" }] }] });
    sim.graph(
        Method::POST,
        &format!("{path}/provisionOnDemand"),
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_demand_provisioning_ignores_scope_answers_in_json_texts_and_keeps_its_pace() {
    let sim = Harness::start("cs-on-demand", &["ada"], |s| {
        s["connect"]["cloud_sync"] = json!({});
    })
    .await;
    let (_, path) = job(&sim).await;
    let (_, schema) = sim
        .graph(Method::GET, &format!("{path}/schema"), None)
        .await;
    let rule = schema["synchronizationRules"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scope = &schema["synchronizationRules"][0]["containerFilter"]["includedContainers"];
    assert!(
        scope
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == &json!(sim.staff())),
        "{scope}"
    );

    // A user out of scope is provisioned all the same: scoping filters are not applied.
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    let parked = format!("CN=ada {},{}", sim.tag, sim.parked());
    let (status, answer) = on_demand(&sim, &path, &rule, &parked).await;
    assert_eq!(status, 200, "{answer}");
    let key: Value = serde_json::from_str(answer["key"].as_str().unwrap()).unwrap();
    let value: Value = serde_json::from_str(answer["value"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Success", "{key}");
    assert_eq!(value["action"], "Update", "{value}");

    let missing = format!("CN=nobody,{}", sim.staff());
    let (_, failed) = on_demand(&sim, &path, &rule, &missing).await;
    let key: Value = serde_json::from_str(failed["key"].as_str().unwrap()).unwrap();
    assert_eq!(key["result"], "Failure", "{key}");

    // Again, with nothing left to change: skipped as a redundant export.
    for _ in 0..3 {
        let (status, again) = on_demand(&sim, &path, &rule, &parked).await;
        assert_eq!(status, 200);
        let key: Value = serde_json::from_str(again["key"].as_str().unwrap()).unwrap();
        assert_eq!(key["result"], "Skipped", "{key}");
        assert_eq!(key["details"]["errorCode"], "RedundantExport", "{key}");
    }
    let (status, refused) = sim
        .client
        .post(sim.url(&format!("/v1.0{path}/provisionOnDemand")))
        .bearer_auth(sim.token(tenant_sim::fixture::GRAPH).await)
        .json(&json!({ "parameters": [{ "ruleId": rule, "subjects": [{ "objectId": parked, "objectTypeName": "user" }] }] }))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r.headers().get("retry-after").cloned()))
        .unwrap();
    assert_eq!(status, 429, "the sixth within 10 s");
    assert!(refused.is_some(), "with Retry-After");

    let (sp, _) = job(&sim).await;
    let job_id = path.rsplit('/').next().unwrap();
    let (_, log) = sim
        .graph(
            Method::GET,
            &format!("/auditLogs/provisioning?$filter=jobId%20eq%20'{job_id}'"),
            None,
        )
        .await;
    let entries = log["value"].as_array().unwrap();
    // The first cycle's create, the on-demand update, the failure; nothing for the skips.
    assert_eq!(entries.len(), 3, "{log}");
    assert!(
        entries
            .iter()
            .all(|e| e["jobId"] == json!(job_id) && e["servicePrincipal"]["id"] == json!(sp))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_past_the_threshold_quarantines_the_job_until_it_is_started() {
    let sim = Harness::start("cs-quarantine", &["ada", "bob"], |s| {
        s["connect"]["cloud_sync"] = json!({});
        s["connect"]["deletion_threshold"] = json!(1);
        s["connect"]["interval_seconds"] = json!(1);
    })
    .await;
    let (_, path) = job(&sim).await;
    let (status, _) = sim.agent(Method::GET, "/scheduler", None).await;
    assert_eq!(status, 404, "no Connect server in a Cloud Sync tenant");
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    sim.move_user("bob", &sim.staff(), &sim.parked()).await;
    let quarantined = eventually(Duration::from_secs(20), "the job's quarantine", || async {
        let (_, job) = sim.graph(Method::GET, &path, None).await;
        (job["status"]["code"] == "Quarantine").then_some(job)
    })
    .await;
    assert_eq!(
        quarantined["status"]["quarantine"]["reason"],
        "TooManyDeletes"
    );
    assert_eq!(quarantined["status"]["lastExecution"]["state"], "Failed");
    let (status, _) = sim
        .graph(Method::POST, &format!("{path}/start"), None)
        .await;
    assert_eq!(status, 204);
    let (_, job) = sim.graph(Method::GET, &path, None).await;
    assert_ne!(job["status"]["code"], "Quarantine", "{job}");
}
