//! The ticket systems keep what Detour writes: Jira comments (v2 text, v3 documents) and
//! transitions, ServiceNow work notes and state, each refusing bad auth and bad bodies.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::Harness;

fn with_tickets(scenario: &mut Value) {
    scenario["tickets"] = json!({
        "jira": { "email": "detour@contoso.com", "api_token": "jira-token", "issues": [
            { "key": "HELP-42", "summary": "Mail to Ada bounces", "labels": ["detour"] },
        ]},
        "servicenow": { "user": "detour", "password": "sn-pass", "incidents": [
            { "number": "INC0010001", "short_description": "Missing onmicrosoft address", "caller_id": "ada@contoso.com" },
        ]},
    });
}

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

async fn call(
    sim: &Harness,
    method: Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = sim
        .client
        .request(method, sim.url(path))
        .header("authorization", auth);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_keeps_comments_and_follows_its_workflow() {
    let sim = Harness::start("jira", &["ada"], with_tickets).await;
    let auth = basic("detour@contoso.com", "jira-token");
    let (status, issue) = call(&sim, Method::GET, "/rest/api/3/issue/HELP-42", &auth, None).await;
    assert_eq!(
        (status, issue["fields"]["status"]["name"].as_str()),
        (200, Some("Open"))
    );
    let (status, _) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/HELP-42",
        &basic("detour@contoso.com", "wrong"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, missing) = call(&sim, Method::GET, "/rest/api/3/issue/HELP-1", &auth, None).await;
    assert_eq!(status, 404);
    assert!(
        missing["errorMessages"][0]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );

    let doc = json!({ "body": { "type": "doc", "version": 1, "content": [
        { "type": "paragraph", "content": [{ "type": "text", "text": "Plan: round trip" }] }] } });
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/api/3/issue/HELP-42/comment",
        &auth,
        Some(doc),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/api/2/issue/HELP-42/comment",
        &auth,
        Some(json!({ "body": "Done." })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, refused) = call(
        &sim,
        Method::POST,
        "/rest/api/3/issue/HELP-42/comment",
        &auth,
        Some(json!({ "body": "plain text on v3" })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["errors"]["comment"], "Comment body is not valid!");
    let (_, comments) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/HELP-42/comment",
        &auth,
        None,
    )
    .await;
    assert_eq!(comments["total"], 2);

    let (_, transitions) = call(
        &sim,
        Method::GET,
        "/rest/api/3/issue/HELP-42/transitions",
        &auth,
        None,
    )
    .await;
    let resolve = transitions["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["to"]["name"] == "Resolved")
        .unwrap()
        .clone();
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/api/3/issue/HELP-42/transitions",
        &auth,
        Some(json!({ "transition": { "id": resolve["id"] } })),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &sim,
        Method::POST,
        "/rest/api/3/issue/HELP-42/transitions",
        &auth,
        Some(json!({ "transition": { "id": "999" } })),
    )
    .await;
    assert_eq!(status, 400);
    let (_, issue) = call(&sim, Method::GET, "/rest/api/3/issue/HELP-42", &auth, None).await;
    assert_eq!(issue["fields"]["status"]["name"], "Resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servicenow_keeps_work_notes_in_the_journal() {
    let sim = Harness::start("snow", &["ada"], with_tickets).await;
    let auth = basic("detour", "sn-pass");
    let (status, found) = call(
        &sim,
        Method::GET,
        "/api/now/table/incident?sysparm_query=number=INC0010001",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let sys_id = found["result"][0]["sys_id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &sim,
        Method::GET,
        "/api/now/table/incident?sysparm_query=number=INC0010001",
        "Basic bm9wZQ==",
        None,
    )
    .await;
    assert_eq!(status, 401);

    let path = format!("/api/now/table/incident/{sys_id}");
    let (status, updated) = call(
        &sim,
        Method::PATCH,
        &path,
        &auth,
        Some(json!({ "work_notes": "Detour: user restored", "state": "2" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["result"]["state"], "2");
    assert_eq!(
        updated["result"]["work_notes"], "",
        "journal fields read back empty"
    );
    call(
        &sim,
        Method::PATCH,
        &path,
        &auth,
        Some(json!({ "work_notes": "Detour: address added" })),
    )
    .await;
    let journal = format!(
        "/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}^element=work_notes"
    );
    let (_, notes) = call(&sim, Method::GET, &journal, &auth, None).await;
    let values: Vec<&str> = notes["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["Detour: user restored", "Detour: address added"]);
    let (status, _) = call(
        &sim,
        Method::GET,
        "/api/now/table/incident/nope",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, 404);
}
