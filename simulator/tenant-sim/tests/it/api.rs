//! The APIs' rules and error shapes: tokens, advanced queries and paging, busy cycles, the
//! deletion threshold, conflicts and bad input.

use detour_contracts::connect_agent::{ObjectOutcome, RunOutcome};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{EXCHANGE, GRAPH, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_per_resource_expire_and_errors_have_the_platforms_shape() {
    let sim = Harness::start("tokens", &["ada"], |_| {}).await;
    let url = sim.url(&format!("/{}/oauth2/v2.0/token", sim.tenant_id));
    let form = |secret: &str, scope: &str| {
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("client_id".to_owned(), sim.client_id.to_string()),
            ("client_secret".to_owned(), secret.to_owned()),
            ("scope".to_owned(), scope.to_owned()),
        ]
    };
    let wrong: Value = sim
        .client
        .post(&url)
        .form(&form("nope", GRAPH))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"], "invalid_client");
    assert_eq!(wrong["error_codes"], json!([7000215]));
    let mixed = sim
        .client
        .post(&url)
        .form(&form(&sim.secret, &format!("{GRAPH} {EXCHANGE}")))
        .send()
        .await
        .unwrap();
    assert_eq!(mixed.status(), 400);
    assert_eq!(
        mixed.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    // An Exchange token does not open Graph.
    let exchange = sim.token(EXCHANGE).await;
    let response = sim
        .client
        .get(sim.url("/v1.0/users"))
        .bearer_auth(&exchange)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidAuthenticationToken"
    );
    let missing = sim.client.get(sim.url("/v1.0/users")).send().await.unwrap();
    assert_eq!(missing.status(), 401);

    // Tokens expire.
    let graph = sim.token(GRAPH).await;
    let ok = sim
        .client
        .get(sim.url("/v1.0/users"))
        .bearer_auth(&graph)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    sim.advance_clock(3600).await;
    let expired = sim
        .client
        .get(sim.url("/v1.0/users"))
        .bearer_auth(&graph)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advanced_queries_need_their_headers_and_pages_link_to_the_next() {
    let sim = Harness::start("query", &["ada", "bob", "cyd"], |_| {}).await;
    let token = sim.token(GRAPH).await;
    let filter = "$filter=endsWith(userPrincipalName,'@contoso.com')";
    let plain = sim
        .client
        .get(sim.url(&format!("/v1.0/users?{filter}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    assert_eq!(
        plain.json::<Value>().await.unwrap()["error"]["code"],
        "Request_UnsupportedQuery"
    );
    let advanced: Value = sim
        .client
        .get(sim.url(&format!("/v1.0/users?{filter}&$count=true")))
        .header("ConsistencyLevel", "eventual")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(advanced["@odata.count"], 3);

    let (status, bad) = sim
        .graph(
            Method::GET,
            "/users?$filter=userPrincipalName eq unquoted",
            None,
        )
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("BadRequest"))
    );
    let (status, bad) = sim
        .graph(Method::GET, "/users?$select=nonsense", None)
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("Request_BadRequest"))
    );
    let (status, _) = sim.graph(Method::GET, "/users/$count", None).await;
    assert_eq!(status, 400);

    let mut seen = Vec::new();
    let mut next = Some(sim.url("/v1.0/users?$top=2&$select=id"));
    while let Some(url) = next {
        let page: Value = sim
            .client
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].clone()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_refuses_a_second_start_while_it_runs() {
    let sim = Harness::start("busy", &["ada"], |s| {
        s["delays"]["cycle_seconds"] = json!(1.0)
    })
    .await;
    let start = json!({ "policyType": "Delta" });
    let (first, _) = sim
        .agent(Method::POST, "/sync-cycles", Some(start.clone()))
        .await;
    assert_eq!(first, 202);
    let (status, busy) = sim.agent(Method::POST, "/sync-cycles", Some(start)).await;
    assert_eq!(status, 409);
    assert_eq!(busy["code"], "busy");
    assert!(busy["message"].as_str().unwrap().contains("AAD is busy"));
    let (_, scheduler) = sim.agent(Method::GET, "/scheduler", None).await;
    assert_eq!(scheduler["syncCycleInProgress"], true);
    let (status, _) = sim
        .agent(
            Method::POST,
            "/sync-cycles",
            Some(json!({ "policyType": "Sometimes" })),
        )
        .await;
    assert_eq!(status, 400);
    let unauthorized = sim
        .client
        .get(sim.url("/connect/v1/scheduler"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_past_the_threshold_stop_the_export() {
    let sim = Harness::start("threshold", &["ada", "bob"], |s| {
        s["connect"]["deletion_threshold"] = json!(1)
    })
    .await;
    sim.move_user("ada", &sim.staff(), &sim.parked()).await;
    sim.move_user("bob", &sim.staff(), &sim.parked()).await;
    let run = sim.sync().await;
    assert_eq!(run.outcome, RunOutcome::StoppedDeletionThresholdExceeded);
    assert!(
        run.objects
            .iter()
            .all(|o| o.outcome != ObjectOutcome::Deleted)
    );
    let (_, deleted) = sim
        .graph(
            Method::GET,
            "/directory/deletedItems/microsoft.graph.user",
            None,
        )
        .await;
    assert_eq!(deleted["value"], json!([]));
    let (_, threshold) = sim.agent(Method::GET, "/deletion-threshold", None).await;
    assert_eq!(threshold, json!({ "enabled": true, "threshold": 1 }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_managed_mailboxes_need_connect_2_5_76() {
    let sim = Harness::start("soa-old", &["ada"], |_| {}).await;
    let (status, body) = sim
        .invoke(
            "Set-Mailbox",
            json!({ "Identity": sim.upn("ada"), "IsExchangeCloudManaged": true }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2.5.190.0"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_managed_mailbox_takes_addresses_unless_another_object_holds_them() {
    let sim = Harness::start("soa", &["ada", "bob"], |s| {
        s["connect"]["version"] = json!("2.5.190.0")
    })
    .await;
    let ada = sim.upn("ada");
    let (status, body) = sim
        .invoke(
            "Set-Mailbox",
            json!({ "Identity": ada, "IsExchangeCloudManaged": true }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let add = |address: String| json!({ "Identity": ada, "EmailAddresses": { "@odata.type": "#Exchange.GenericHashTable", "Add": [address] } });

    // bob already holds his coexistence address: ada cannot take it.
    let (status, conflict) = sim
        .invoke(
            "Set-Mailbox",
            add(format!(
                "smtp:{}@contoso.mail.onmicrosoft.com",
                sim.sam("bob")
            )),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        conflict["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("Reason: ObjectConflict"),
        "{conflict}"
    );

    // Her own is free; the user stays synced.
    let own = format!("smtp:{}@contoso.mail.onmicrosoft.com", sim.sam("ada"));
    let (status, _) = sim.invoke("Set-Mailbox", add(own.clone())).await;
    assert_eq!(status, 200);
    let (_, mailbox) = sim.invoke("Get-Mailbox", json!({ "Identity": ada })).await;
    assert_eq!(mailbox["value"][0]["IsDirSynced"], true);
    assert_eq!(mailbox["value"][0]["IsExchangeCloudManaged"], true);
    assert!(
        mailbox["value"][0]["EmailAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &json!(own))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_the_real_apis_errors_never_a_crash() {
    let sim = Harness::start("errors", &["ada"], |_| {}).await;
    let (status, body) = sim
        .invoke(
            "Set-Mailbox",
            json!({ "Identity": sim.upn("ada"), "EmailAddresses": { "Add": ["x@y"] } }),
        )
        .await;
    assert_eq!(status, 400, "a hashtable must say it is one: {body}");
    let (status, body) = sim
        .invoke("Get-Mailbox", json!({ "Identity": "nobody@contoso.com" }))
        .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ManagementObjectNotFoundException")
    );
    let (status, _) = sim.invoke("Remove-Mailbox", json!({})).await;
    assert_eq!(status, 400);

    let token = sim.token(GRAPH).await;
    let garbage = sim
        .client
        .post(sim.url(&format!("/v1.0/users/{}/assignLicense", sim.upn("ada"))))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(
        garbage.json::<Value>().await.unwrap()["error"]["code"],
        "Request_BadRequest"
    );
    let restore = sim
        .client
        .post(sim.url(&format!(
            "/v1.0/directory/deletedItems/{}/restore",
            uuid::Uuid::new_v4()
        )))
        .bearer_auth(&token)
        .json(&json!({ "surprise": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(restore.status(), 400, "unknown fields are refused");
    let (status, missing) = sim
        .graph(
            Method::POST,
            &format!("/directory/deletedItems/{}/restore", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let bad_scenario = sim
        .client
        .post(sim.url("/_sim/scenario"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_scenario.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_throttles_past_its_resource_units_with_retry_after() {
    let sim = Harness::start("throttle", &["ada"], |s| {
        s["limits"] = json!({ "graph_resource_units_per_10_seconds": 6 })
    })
    .await;
    let token = sim.token(GRAPH).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        // A plain user list costs 2 units.
        let response = sim
            .client
            .get(sim.url("/v1.0/users"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 200 {
            assert_eq!(response.headers()["x-ms-resource-unit"], "2");
        } else {
            assert_eq!(
                response.headers()["x-ms-throttle-information"],
                "ResourceUnitLimitExceeded"
            );
            let wait: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=10).contains(&wait), "{wait}");
            assert_eq!(
                response.json::<Value>().await.unwrap()["error"]["code"],
                "TooManyRequests"
            );
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_hit_the_matching_requests_then_stop() {
    let sim = Harness::start("faults", &["ada"], |_| {}).await;
    let fault = |body: Value| {
        let request = sim.client.post(sim.url("/_sim/faults")).json(&body);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        fault(json!({ "api": "exchange", "kind": "busy", "count": 1 })).await,
        201
    );
    assert_eq!(fault(json!({ "api": "graph", "path_contains": "/users", "method": "GET", "kind": "server-error", "status": 503, "count": 2 })).await, 201);
    assert_eq!(
        fault(json!({ "api": "graph", "kind": "nonsense" })).await,
        400
    );

    let token = sim.token(EXCHANGE).await;
    let busy = sim
        .client
        .post(sim.url(&format!("/adminapi/beta/{}/InvokeCommand", sim.tenant_id)))
        .bearer_auth(&token)
        .json(&json!({ "CmdletInput": { "CmdletName": "Get-Mailbox", "Parameters": {} } }))
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 429);
    assert!(
        busy.text()
            .await
            .unwrap()
            .contains("maximum number of concurrent requests")
    );
    let (status, _) = sim.invoke("Get-Mailbox", json!({})).await;
    assert_eq!(status, 200, "the fault was for one request");

    let (first, error) = sim.graph(Method::GET, "/users", None).await;
    assert_eq!(
        (first, error["error"]["code"].as_str()),
        (503, Some("serviceNotAvailable"))
    );
    let (second, _) = sim.graph(Method::GET, "/users", None).await;
    let (third, _) = sim.graph(Method::GET, "/users", None).await;
    assert_eq!((second, third), (503, 200));

    assert_eq!(
        fault(json!({ "api": "connect", "kind": "timeout" })).await,
        201
    );
    let slow = sim
        .client
        .get(sim.url("/connect/v1/scheduler"))
        .bearer_auth(&sim.agent_key)
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
    let cleared = sim
        .client
        .delete(sim.url("/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    let (status, _) = sim.agent(Method::GET, "/scheduler", None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_each_request_with_its_own_status() {
    let sim = Harness::start("batch", &["ada"], |_| {}).await;
    let token = sim.token(GRAPH).await;
    let post = |body: Value| {
        let request = sim
            .client
            .post(sim.url("/v1.0/$batch"))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    sim.add_fault(json!({ "api": "graph", "path_contains": "/subscribedSkus", "kind": "throttle", "retry_after_seconds": 7, "count": 1 })).await;
    let (status, batch) = post(json!({ "requests": [
        { "id": "1", "method": "GET", "url": format!("/users/{}?$select=id", sim.upn("ada")) },
        { "id": "2", "method": "GET", "url": "/users/nobody@contoso.com" },
        { "id": "3", "method": "GET", "url": "/users?$top=1", "dependsOn": ["2"] },
        { "id": "4", "method": "GET", "url": "subscribedSkus" },
        { "id": "5", "method": "PATCH", "url": format!("/users/{}", sim.upn("ada")),
          "headers": { "Content-Type": "application/json" }, "body": { "usageLocation": "DE" } },
    ]}))
    .await;
    assert_eq!(status, 200);
    let by_id = |id: &str| {
        batch["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("1")["status"], 200);
    assert_eq!(by_id("2")["status"], 404);
    assert_eq!(
        by_id("2")["body"]["error"]["code"],
        "Request_ResourceNotFound"
    );
    assert_eq!(by_id("3")["status"], 424, "its dependency failed");
    assert_eq!(
        by_id("4")["status"],
        429,
        "inner requests are throttled on their own"
    );
    assert_eq!(by_id("4")["headers"]["retry-after"], "7");
    assert_eq!(by_id("5")["status"], 204);

    let many: Vec<Value> = (0..21)
        .map(|i| json!({ "id": i.to_string(), "method": "GET", "url": "/users" }))
        .collect();
    assert_eq!(post(json!({ "requests": many })).await.0, 400);
    let twice = json!({ "requests": [{ "id": "1", "method": "GET", "url": "/users" }, { "id": "1", "method": "GET", "url": "/users" }] });
    assert_eq!(post(twice).await.0, 400);
    let untyped =
        json!({ "requests": [{ "id": "1", "method": "PATCH", "url": "/users/x", "body": {} }] });
    assert_eq!(post(untyped).await.0, 400, "a body needs a Content-Type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refuses_cycles_in_staging_mode_and_while_suspended() {
    for (setting, code) in [
        ("staging_mode", "staging-mode"),
        ("scheduler_suspended", "scheduler-suspended"),
    ] {
        let sim = Harness::start(code, &["ada"], |s| s["connect"][setting] = json!(true)).await;
        let (status, refusal) = sim
            .agent(
                Method::POST,
                "/sync-cycles",
                Some(json!({ "policyType": "Initial" })),
            )
            .await;
        assert_eq!(
            (status, refusal["code"].as_str()),
            (409, Some(code)),
            "{refusal}"
        );
        let (_, scheduler) = sim.agent(Method::GET, "/scheduler", None).await;
        let field = if setting == "staging_mode" {
            "stagingModeEnabled"
        } else {
            "schedulerSuspended"
        };
        assert_eq!(scheduler[field], true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_mailbox_removes_addresses_too() {
    let sim = Harness::start("remove", &["bob"], |s| {
        s["connect"]["version"] = json!("2.5.190.0")
    })
    .await;
    let bob = sim.upn("bob");
    let coexistence = format!("smtp:{}@contoso.mail.onmicrosoft.com", sim.sam("bob"));
    sim.invoke(
        "Set-Mailbox",
        json!({ "Identity": bob, "IsExchangeCloudManaged": true }),
    )
    .await;
    let remove = json!({ "Identity": bob, "EmailAddresses": { "@odata.type": "#Exchange.GenericHashTable", "Remove": coexistence } });
    let (status, body) = sim.invoke("Set-Mailbox", remove).await;
    assert_eq!(status, 200, "{body}");
    let (_, mailbox) = sim.invoke("Get-Mailbox", json!({ "Identity": bob })).await;
    let addresses = mailbox["value"][0]["EmailAddresses"].as_array().unwrap();
    assert!(
        !addresses.iter().any(|a| a == &json!(coexistence)),
        "{addresses:?}"
    );
}
