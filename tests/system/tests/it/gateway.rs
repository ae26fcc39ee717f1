//! Detour end to end from the help desk: a ticket filed through the gateway's webhooks (Jira
//! signed, ServiceNow with its token, the generic endpoint), the user remediated by the real
//! services against the real directory and tenant-sim, and the story told back on the ticket.

use std::time::Duration;

use detour_config::Secret;
use detour_contracts::{
    Envelope, SagaId, TicketRef, TicketSystem,
    saga_coordinator::{Outcome, RemediationProgress, Stage},
};
use detour_system::{
    desk::{self, Desk, is_final, jira_created, jira_status_changed, tickets_section},
    services::{JIRA_WEBHOOK_SECRET, WEBHOOK_TOKEN, gateway_env},
};
use detour_testkit::eventually;
use serde_json::{Value, json};
use tenant_sim::fixture::TenantFixture;
use ticket_gateway::GatewaySettings;

use crate::{
    coordinator::{Detour, assert_fixed, back_as_before, cloud_user, fail_every_restore},
    procedure::service,
};

/// Detour with its gateway, and the desk that files tickets to it.
struct Helpdesk {
    detour: Detour,
    desk: Desk,
}

impl Helpdesk {
    async fn start(tenant: &TenantFixture, prefix: &str, coordinator: &[(&str, &str)]) -> Self {
        Self::start_with(tenant, prefix, coordinator, &[]).await
    }

    /// With `gateway` settings added to the dev stack's.
    async fn start_with(
        tenant: &TenantFixture,
        prefix: &str,
        coordinator: &[(&str, &str)],
        gateway: &[(&str, &str)],
    ) -> Self {
        let mut env = gateway_env(&tenant.base);
        env.push(("DETOUR__WEBHOOK__MAX_BODY_BYTES".into(), "65536".into()));
        env.extend(
            gateway
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let gateway =
            service::<GatewaySettings>(ticket_gateway::DEFAULT_PORT, ticket_gateway::spec, env);
        let detour = Detour::start_with(tenant, prefix, coordinator, vec![gateway]).await;
        let desk = Desk {
            client: reqwest::Client::new(),
            gateway: format!("http://{}", detour.bus.ops_addr(5)),
            tickets: tenant.base.clone(),
            jira_secret: Secret::new(JIRA_WEBHOOK_SECRET),
            webhook_token: Secret::new(WEBHOOK_TOKEN),
        };
        Self { detour, desk }
    }

    /// Files the Jira issue `key` as Jira's `issue_created` webhook would.
    async fn file_jira(&self, key: &str, delivery: &str) -> Value {
        let issue = self.desk.jira_issue(key).await.unwrap();
        let (status, answer) = self
            .desk
            .jira_webhook(&jira_created(&issue), delivery)
            .await
            .unwrap();
        assert_eq!(status, 202, "{answer}");
        answer
    }

    /// The issue's comments once its final one is there (and its follow-up had time to land).
    async fn jira_story(&self, key: &str) -> Vec<String> {
        eventually(Duration::from_secs(120), "the final comment", || async {
            let comments = self.desk.jira_comments(key).await.ok()?;
            comments.iter().any(|c| is_final(c)).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let comments = self.desk.jira_comments(key).await.unwrap();
        let finals = comments.iter().filter(|c| is_final(c)).count();
        assert_eq!(
            finals,
            1,
            "exactly one final comment:\n{}",
            comments.join("\n---\n")
        );
        comments
    }

    /// The sagas the coordinator has for `ticket` (e.g. `jira:HELP-1`).
    /// How many deliveries the gateway's queue has handled (its `/metrics`).
    async fn gateway_handled(&self) -> u64 {
        let metrics = self
            .desk
            .client
            .get(format!("{}/metrics", self.desk.gateway))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .filter(|line| {
                line.starts_with("detour_bus_deliveries_total{")
                    && line.contains("queue=\"ticket-gateway\"")
                    && line.contains("outcome=\"handled\"")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .map(|n| n as u64)
            .sum()
    }

    /// Waits until the gateway has handled `more` deliveries beyond `before`: the positive
    /// signal that what was sent has been dealt with, before checking it changed nothing.
    async fn gateway_handled_more(&self, before: u64, more: u64) {
        eventually(
            Duration::from_secs(30),
            "the gateway to handle it",
            || async { (self.gateway_handled().await >= before + more).then_some(()) },
        )
        .await;
    }

    async fn sagas_for(&self, ticket: &str) -> Vec<Value> {
        self.sagas(&[("ticket", ticket)]).await
    }

    /// The coordinator's list of remediations, filtered by `query`.
    async fn sagas(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let list: Value = self
            .detour
            .client
            .get(format!("{}/sagas", self.detour.api))
            .query(query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["sagas"].as_array().cloned().unwrap_or_default()
    }

    /// Every remediation this Detour knows, its timeline with the time of each entry: what a
    /// failed assertion shows beside the ticket's own story.
    async fn timelines(&self) -> String {
        let mut out = String::new();
        for summary in self.sagas(&[]).await {
            let id = summary["saga_id"].as_str().unwrap_or_default();
            let view = self.detour.show(id).await;
            out.push_str(&format!("saga {id}:\n"));
            for entry in &view.timeline {
                out.push_str(&format!("  {} {} {}\n", entry.at, entry.kind, entry.detail));
            }
        }
        out
    }
}

/// A tenant of `users` whose Jira has an issue per `(key, labels)`, each naming the first
/// user in its description.
async fn tenant_with_issues(
    prefix: &str,
    users: &[&str],
    issues: &[(&str, &[&str])],
) -> TenantFixture {
    TenantFixture::start(prefix, users, |scenario| {
        let description = format!("User {}", upn_in(scenario, 0));
        let issues: Vec<Value> = issues
            .iter()
            .map(|(key, labels)| issue(key, "No onmicrosoft.com address", &description, labels))
            .collect();
        scenario["tickets"] = tickets_section(&issues, &[]);
    })
    .await
}

/// A tenant of one user, Ada, the caller of ServiceNow incident `number`.
async fn tenant_with_incident(prefix: &str, number: &str) -> TenantFixture {
    TenantFixture::start(prefix, &["ada"], |scenario| {
        let incident = json!({ "number": number, "caller_id": upn_in(scenario, 0),
            "short_description": "No contoso.mail.onmicrosoft.com address" });
        scenario["tickets"] = tickets_section(&[], &[incident]);
    })
    .await
}

/// The incident's work notes once its final one is there.
async fn final_work_notes(desk: &Desk, sys_id: &str) -> Vec<String> {
    eventually(Duration::from_secs(120), "the final work note", || async {
        let notes = desk.work_notes(sys_id).await.ok()?;
        notes.iter().any(|n| is_final(n)).then_some(notes)
    })
    .await
}

fn issue(key: &str, summary: &str, description: &str, labels: &[&str]) -> Value {
    json!({ "key": key, "summary": summary, "description": description, "labels": labels })
}

/// The UPN of the scenario's `index`th user (the fixture tags every name).
fn upn_in(scenario: &Value, index: usize) -> String {
    scenario["ad"]["users"][index]["user_principal_name"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn story(comments: &[String]) -> String {
    comments.join("\n---\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_jira_ticket_gets_the_user_fixed_and_the_ticket_resolved_once() {
    let tenant = TenantFixture::start("desk-jira", &["ada", "bob"], |scenario| {
        let ada = upn_in(scenario, 0);
        scenario["tickets"] = tickets_section(
            &[issue(
                "HELP-42",
                "Mail to Ada bounces: no contoso.mail.onmicrosoft.com address",
                &format!("Affected user: {ada}. Mail routed from on-premises bounces."),
                &["detour"],
            )],
            &[],
        );
    })
    .await;
    let helpdesk = Helpdesk::start(&tenant, "desk-jira", &[]).await;
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(&tenant, &ada).await;

    let answer = helpdesk.file_jira("HELP-42", "delivery-1").await;
    assert_eq!(answer["status"], "accepted", "{answer}");
    assert_eq!(answer["user"], ada.as_str());
    let trace_id = answer["trace_id"].as_str().unwrap_or_default().to_owned();

    let comments = helpdesk.jira_story("HELP-42").await;
    let text = story(&comments);
    for milestone in [
        "Diagnosed:",
        "out of sync scope",
        "restored in the cloud",
        "is added to the mailbox",
        "back in sync scope",
        "Outcome: fixed.",
    ] {
        if !text.contains(milestone) {
            let timelines = helpdesk.timelines().await;
            panic!("{milestone} missing from:\n{text}\n{timelines}");
        }
    }
    assert!(
        text.contains(&format!("+ smtp:{address}")),
        "the diff:\n{text}"
    );
    let saga_id = helpdesk.sagas_for("jira:HELP-42").await[0]["saga_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = comments.last().unwrap();
    assert!(last.contains(&format!("Saga: {saga_id}")), "{last}");
    if !trace_id.is_empty() {
        assert!(last.contains(&format!("Trace: {trace_id}")), "{last}");
    }
    eventually(Duration::from_secs(10), "HELP-42 resolved", || async {
        let issue = helpdesk.desk.jira_issue("HELP-42").await.ok()?;
        (issue["fields"]["status"]["name"] == "Resolved").then_some(())
    })
    .await;
    assert_fixed(&tenant, &ada, &address, &before).await;

    // Jira delivers the same webhook again (same id): dropped at the door.
    let issue = helpdesk.desk.jira_issue("HELP-42").await.unwrap();
    let (status, again) = helpdesk
        .desk
        .jira_webhook(&jira_created(&issue), "delivery-1")
        .await
        .unwrap();
    assert_eq!((status, again["status"].as_str()), (202, Some("duplicate")));
    // A signed body from two days ago, under an id never seen: refused as a replay.
    let mut old = jira_created(&issue);
    old["timestamp"] = json!(detour_system::desk::now_ms() - 2 * 86_400_000);
    let (status, refused) = helpdesk
        .desk
        .jira_webhook(&old, "delivery-from-the-past")
        .await
        .unwrap();
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("replay"),
        "{refused}"
    );
    // The same ticket under a new delivery id joins the saga it started: no second one.
    let handled = helpdesk.gateway_handled().await;
    let (status, _) = helpdesk
        .desk
        .jira_webhook(&jira_created(&issue), "delivery-2")
        .await
        .unwrap();
    assert_eq!(status, 202);
    // The coordinator's answer (joined) reaching the gateway says the request was dealt with.
    helpdesk.gateway_handled_more(handled, 1).await;
    assert_eq!(helpdesk.sagas_for("jira:HELP-42").await.len(), 1);
    assert_eq!(
        helpdesk.desk.jira_comments("HELP-42").await.unwrap(),
        comments
    );
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servicenow_incident_gets_the_user_fixed_and_the_incident_resolved() {
    let tenant = tenant_with_incident("desk-snow", "INC0010001").await;
    let helpdesk = Helpdesk::start(&tenant, "desk-snow", &[]).await;
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(&tenant, &ada).await;

    let mut incident = helpdesk.desk.incident("INC0010001").await.unwrap();
    incident["operation"] = json!("insert");
    let (status, answer) = helpdesk.desk.servicenow_webhook(&incident).await.unwrap();
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );

    let sys_id = incident["sys_id"].as_str().unwrap().to_owned();
    let notes = final_work_notes(&helpdesk.desk, &sys_id).await;
    let text = story(&notes);
    if !(text.contains("Outcome: fixed.") && text.contains("restored in the cloud")) {
        let timelines = helpdesk.timelines().await;
        panic!("not fixed by the round trip:\n{text}\n{timelines}");
    }
    let resolved = eventually(Duration::from_secs(10), "the incident resolved", || async {
        let incident = helpdesk.desk.incident("INC0010001").await.ok()?;
        (incident["state"] == "6").then_some(incident)
    })
    .await;
    assert_eq!(resolved["close_code"], "Solved (Permanently)");
    assert_fixed(&tenant, &ada, &address, &before).await;
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_endpoint_runs_a_dry_run_that_changes_nothing() {
    let tenant = TenantFixture::start("desk-generic", &["ada"], |_| {}).await;
    let helpdesk = Helpdesk::start(&tenant, "desk-generic", &[]).await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    let runs_before = tenant.runs().await.len();

    let (status, answer) = helpdesk
        .desk
        .generic_webhook(&json!({ "ticket": "CHG-7", "user": ada, "dry_run": true }))
        .await
        .unwrap();
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );
    let planned = eventually(Duration::from_secs(60), "the dry run's plan", || async {
        let sagas = helpdesk.sagas_for("generic:CHG-7").await;
        sagas.first().filter(|s| s["status"] == "planned").cloned()
    })
    .await;
    assert_eq!(planned["user"], ada.as_str());
    assert_eq!(
        cloud_user(&tenant, &ada).await,
        before,
        "a dry run changes nothing"
    );
    assert_eq!(
        tenant.runs().await.len(),
        runs_before,
        "and runs no sync cycle"
    );

    // Without a user, or without the token, it says what is wrong.
    let (status, answer) = helpdesk
        .desk
        .generic_webhook(&json!({ "ticket": "CHG-8" }))
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("user is missing"),
        "{answer}"
    );
    let (status, _) = helpdesk
        .desk
        .post_raw(
            "/webhooks/generic",
            br#"{"ticket": "CHG-9", "user": "a@b.c"}"#.to_vec(),
            &[("authorization", "Bearer guess")],
        )
        .await
        .unwrap();
    assert_eq!(status, 401);
    assert!(helpdesk.sagas_for("generic:CHG-9").await.is_empty());
    helpdesk.detour.bus.stop().await;
}

/// One request on `stream` (an open connection), and the answer's head and body.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    request_head: &str,
    body: &[u8],
) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request_head.as_bytes()).await.unwrap();
    // Written in pieces, as a client streams it; the server may answer before the end.
    for piece in body.chunks(64 * 1024) {
        if stream.write_all(piece).await.is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the connection closed without an answer");
        answer.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|n| n.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if rest.len() >= length {
                return (head.to_ascii_lowercase(), rest[..length].to_owned());
            }
        }
    }
}

/// A body over the limit but within what the gateway drains is answered 413 on a connection
/// kept for the next request; a far larger one is answered 413 and the connection closed.
async fn too_large_bodies_get_their_413_and_the_connection_as_http_says(gateway: &str) {
    let address = gateway.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let post = |length: usize| {
        format!(
            "POST /webhooks/generic HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {WEBHOOK_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
    };
    let big = vec![b'x'; 600 * 1024];
    let (head, body) = exchange(&mut stream, &post(big.len()), &big).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    assert!(body.contains("max_body_bytes"), "{body}");
    // The same connection takes the next request.
    let (head, body) = exchange(&mut stream, &post(2), b"{}").await;
    assert!(head.starts_with("http/1.1 400"), "{head}: {body}");

    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (head, _) = exchange(&mut stream, &post(64 * 1024 * 1024), &[]).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deliveries_are_refused_and_tickets_without_a_case_are_told_why() {
    let tenant = TenantFixture::start("desk-bad", &["ada"], |scenario| {
        scenario["tickets"] = tickets_section(
            &[
                issue(
                    "HELP-1",
                    "Mailbox missing its onmicrosoft.com address",
                    "Please fix.",
                    &["detour"],
                ),
                issue("HELP-2", "The printer jams", "Third floor.", &[]),
                issue(
                    "HELP-3",
                    "onmicrosoft.com address missing",
                    &format!("User {}@contoso.com", "a".repeat(300)),
                    &["detour"],
                ),
            ],
            &[],
        );
    })
    .await;
    let helpdesk = Helpdesk::start(&tenant, "desk-bad", &[]).await;
    let desk = &helpdesk.desk;
    let issue = desk.jira_issue("HELP-1").await.unwrap();
    let body = serde_json::to_vec(&jira_created(&issue)).unwrap();

    // Forged and unsigned deliveries: 401, and nothing is started.
    let forged = ticket_gateway::inbound::signature::hub_signature(&Secret::new("guess"), &body);
    let (status, answer) = desk
        .post_raw(
            "/webhooks/jira",
            body.clone(),
            &[("X-Hub-Signature", &forged)],
        )
        .await
        .unwrap();
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("does not match"),
        "{answer}"
    );
    let (status, _) = desk
        .post_raw("/webhooks/jira", body.clone(), &[])
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, _) = desk
        .post_raw(
            "/webhooks/servicenow",
            br#"{"number": "INC1"}"#.to_vec(),
            &[("x-detour-token", "guess")],
        )
        .await
        .unwrap();
    assert_eq!(status, 401);

    // Too large: 413 before it is read whole.
    let huge = json!({ "webhookEvent": "jira:issue_created", "padding": "x".repeat(70_000) });
    let (status, answer) = desk.jira_webhook(&huge, "huge").await.unwrap();
    assert_eq!(status, 413, "{answer}");
    too_large_bodies_get_their_413_and_the_connection_as_http_says(&desk.gateway).await;

    // Malformed, with what is wrong.
    let signature =
        ticket_gateway::inbound::signature::hub_signature(&desk.jira_secret, b"{not json");
    let (status, answer) = desk
        .post_raw(
            "/webhooks/jira",
            b"{not json".to_vec(),
            &[("X-Hub-Signature", &signature)],
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("not valid JSON"),
        "{answer}"
    );
    let (status, answer) = desk
        .jira_webhook(
            &json!({ "webhookEvent": "jira:issue_created", "issue": { "fields": {} } }),
            "no-key",
        )
        .await
        .unwrap();
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("issue.key"),
        "{answer}"
    );

    // A remediation ticket that names no user, and a ticket that is not one: 202, and the
    // ticket is told why nothing will happen.
    let answer = helpdesk.file_jira("HELP-1", "no-user").await;
    assert_eq!(answer["status"], "declined", "{answer}");
    let printer = desk.jira_issue("HELP-2").await.unwrap();
    let (status, answer) = desk
        .jira_webhook(&jira_created(&printer), "printer")
        .await
        .unwrap();
    assert_eq!((status, answer["status"].as_str()), (202, Some("declined")));
    // A "UPN" longer than Entra allows: declined at the door, with the reason.
    let answer = helpdesk.file_jira("HELP-3", "too-long").await;
    assert_eq!(answer["status"], "declined", "{answer}");
    for (key, says) in [
        ("HELP-1", "could not find the affected user"),
        ("HELP-2", "does not look like a missing-address case"),
        ("HELP-3", "longer than Entra allows"),
    ] {
        let comments = eventually(Duration::from_secs(30), "the explanation", || async {
            let comments = desk.jira_comments(key).await.ok()?;
            (!comments.is_empty()).then_some(comments)
        })
        .await;
        assert_eq!(comments.len(), 1, "{comments:?}");
        assert!(comments[0].contains(says), "{comments:?}");
    }
    for ticket in ["jira:HELP-1", "jira:HELP-2", "jira:HELP-3"] {
        assert!(helpdesk.sagas_for(ticket).await.is_empty(), "{ticket}");
    }
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_upn_with_ldap_metacharacters_finds_no_one_and_changes_nothing() {
    let tenant = TenantFixture::start("desk-ldap", &["ada", "bob"], |scenario| {
        scenario["tickets"] = tickets_section(
            &[issue(
                "HELP-5",
                "onmicrosoft.com address missing",
                "Affected user: *)(objectClass=*)(sAMAccountName=*@contoso.com",
                &["detour"],
            )],
            &[],
        );
    })
    .await;
    let helpdesk = Helpdesk::start(&tenant, "desk-ldap", &[]).await;
    let mut before = Vec::new();
    for upn in [tenant.upn("ada"), tenant.upn("bob")] {
        before.push(cloud_user(&tenant, &upn).await);
    }
    let answer = helpdesk.file_jira("HELP-5", "ldap").await;
    assert_eq!(
        answer["user"],
        "*)(objectClass=*)(sAMAccountName=*@contoso.com"
    );
    let comments = helpdesk.jira_story("HELP-5").await;
    let text = story(&comments);
    assert!(text.contains("Cannot diagnose"), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
    for (upn, was) in [tenant.upn("ada"), tenant.upn("bob")].iter().zip(&before) {
        assert_eq!(&cloud_user(&tenant, upn).await, was, "{upn}");
    }
    let issue = helpdesk.desk.jira_issue("HELP-5").await.unwrap();
    assert_eq!(issue["fields"]["status"]["name"], "Open", "not resolved");
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_ticket_gets_the_plan_through_throttling_and_nothing_changes() {
    let tenant = tenant_with_issues(
        "desk-dry",
        &["ada"],
        &[("HELP-6", &["detour", "detour-dry-run"])],
    )
    .await;
    let helpdesk = Helpdesk::start(&tenant, "desk-dry", &[]).await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    // Jira throttles the first two comment writes.
    tenant
        .add_fault(
            json!({ "api": "tickets", "path_contains": "/comment", "method": "POST",
            "kind": "throttle", "retry_after_seconds": 1, "count": 2 }),
        )
        .await;
    let answer = helpdesk.file_jira("HELP-6", "dry").await;
    assert_eq!(answer["dry_run"], true, "{answer}");
    let comments = helpdesk.jira_story("HELP-6").await;
    assert_eq!(comments.len(), 1, "only the plan: {comments:?}");
    let plan = &comments[0];
    assert!(plan.contains("Dry run"), "{plan}");
    assert!(plan.contains("Outcome: planned"), "{plan}");
    assert!(
        plan.contains(&format!(
            "+ smtp:{}@contoso.mail.onmicrosoft.com",
            tenant.sam("ada")
        )),
        "{plan}"
    );
    assert_eq!(
        tenant.faults_left().await,
        json!([]),
        "the throttling was ridden out"
    );
    assert_eq!(cloud_user(&tenant, &ada).await, before);
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_changes_until_the_ticket_is_approved() {
    let tenant = tenant_with_issues(
        "desk-approval",
        &["ada"],
        &[("HELP-8", &["detour"]), ("HELP-12", &["detour"])],
    )
    .await;
    let helpdesk = Helpdesk::start(
        &tenant,
        "desk-approval",
        &[("DETOUR__SAGA__APPROVAL_REQUIRED", "true")],
    )
    .await;
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(&tenant, &ada).await;
    let runs_before = tenant.runs().await.len();
    helpdesk.file_jira("HELP-8", "approval").await;
    let comments = eventually(Duration::from_secs(60), "the approval request", || async {
        let comments = helpdesk.desk.jira_comments("HELP-8").await.ok()?;
        comments
            .iter()
            .any(|c| c.contains("Waiting for approval"))
            .then_some(comments)
    })
    .await;
    assert!(story(&comments).contains("Diagnosed:"), "{comments:?}");
    let held = helpdesk.sagas_for("jira:HELP-8").await;
    assert_eq!(held[0]["status"], "awaiting-approval", "{held:?}");
    assert_eq!(
        cloud_user(&tenant, &ada).await,
        before,
        "nothing before approval"
    );
    assert_eq!(tenant.runs().await.len(), runs_before);

    // A second ticket for her joins the waiting remediation and is told where it reports.
    helpdesk.file_jira("HELP-12", "second-ticket").await;
    let told = eventually(Duration::from_secs(30), "the join note", || async {
        let comments = helpdesk.desk.jira_comments("HELP-12").await.ok()?;
        comments.first().cloned()
    })
    .await;
    assert!(
        told.contains("already remediating") && told.contains("jira:HELP-8"),
        "{told}"
    );
    assert!(helpdesk.sagas_for("jira:HELP-12").await.is_empty());

    let issue = helpdesk.desk.jira_issue("HELP-8").await.unwrap();
    let approved = jira_status_changed(&issue, "In Progress", "Approved", "Grace Hopper");
    let (status, answer) = helpdesk
        .desk
        .jira_webhook(&approved, "approved")
        .await
        .unwrap();
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("approval-sent")),
        "{answer}"
    );
    let comments = helpdesk.jira_story("HELP-8").await;
    assert!(
        story(&comments).contains("Outcome: fixed."),
        "{}",
        story(&comments)
    );
    assert_fixed(&tenant, &ada, &address, &before).await;
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_case_says_why_and_the_ticket_stays_open() {
    let tenant = TenantFixture::start("desk-refused", &["cyd"], |scenario| {
        let cyd = upn_in(scenario, 0);
        scenario["roles"] = json!([{
            "display_name": "Exchange Administrator",
            "role_template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de",
            "members": [cyd],
        }]);
        scenario["tickets"] = tickets_section(
            &[issue(
                "HELP-9",
                "No onmicrosoft.com address",
                &format!("User {cyd}"),
                &["detour"],
            )],
            &[],
        );
    })
    .await;
    let helpdesk = Helpdesk::start(&tenant, "desk-refused", &[]).await;
    let cyd = tenant.upn("cyd");
    let before = cloud_user(&tenant, &cyd).await;
    helpdesk.file_jira("HELP-9", "refused").await;
    let comments = helpdesk.jira_story("HELP-9").await;
    let text = story(&comments);
    assert!(text.contains("Refused"), "{text}");
    assert!(text.contains("AdminRole"), "{text}");
    assert!(
        text.contains("Outcome: refused (nothing changed)."),
        "{text}"
    );
    assert_eq!(cloud_user(&tenant, &cyd).await, before);
    let issue = helpdesk.desk.jira_issue("HELP-9").await.unwrap();
    assert_eq!(issue["fields"]["status"]["name"], "Open");
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compensated_case_says_what_happened_and_that_the_user_is_back_as_before() {
    let tenant = tenant_with_issues("desk-undo", &["ada"], &[("HELP-10", &["detour"])]).await;
    let helpdesk = Helpdesk::start(
        &tenant,
        "desk-undo",
        &[("DETOUR__SAGA__ACTION_DEADLINE_MS", "5000")],
    )
    .await;
    let ada = tenant.upn("ada");
    let before = cloud_user(&tenant, &ada).await;
    fail_every_restore(&tenant).await;
    helpdesk.file_jira("HELP-10", "undo").await;
    let comments = helpdesk.jira_story("HELP-10").await;
    let text = story(&comments);
    assert!(
        text.contains("putting"),
        "the compensation is announced:\n{text}"
    );
    assert!(text.contains("back as before"), "{text}");
    assert!(text.contains("Outcome: not fixed; undone"), "{text}");
    back_as_before(&tenant, &ada, &before, &text).await;
    let issue = helpdesk.desk.jira_issue("HELP-10").await.unwrap();
    assert_ne!(issue["fields"]["status"]["name"], "Resolved");
    helpdesk.detour.bus.stop().await;
}

/// The desk's constants are the scenario's: a check that the helpers agree with contoso.json.
#[test]
fn the_desks_accounts_are_the_contoso_scenarios() {
    let scenario: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../simulator/tenant-sim/scenarios/contoso.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(scenario["tickets"]["jira"]["email"], desk::JIRA_EMAIL);
    assert_eq!(scenario["tickets"]["jira"]["api_token"], desk::JIRA_TOKEN);
    assert_eq!(
        scenario["tickets"]["servicenow"]["password"],
        desk::SERVICENOW_PASSWORD
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_ticket_tool_files_a_ticket_and_follows_it_to_its_end() {
    let tenant = tenant_with_issues("desk-tool", &["ada"], &[("HELP-42", &["detour"])]).await;
    let helpdesk = Helpdesk::start(&tenant, "desk-tool", &[]).await;
    let secret = std::env::temp_dir().join(format!("detour-tool-{}", tenant.tag));
    std::fs::write(&secret, JIRA_WEBHOOK_SECRET).unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_detour-file-ticket"))
        .args(["--gateway", &helpdesk.desk.gateway, "--jira", &tenant.base])
        .arg("--secret-file")
        .arg(&secret)
        .args(["--key", "HELP-42", "--follow-seconds", "120"])
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_file(&secret);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(out.contains("filed HELP-42"), "{out}");
    assert!(
        out.contains("Diagnosed:") && out.contains("Outcome: fixed."),
        "{out}"
    );
    assert!(
        !out.contains("detour-ref:"),
        "markers are for machines: {out}"
    );
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_event_delivered_twice_is_one_comment_and_needs_attention_escalates() {
    let tenant = tenant_with_issues("desk-escalate", &["ada"], &[("HELP-11", &["detour"])]).await;
    let helpdesk = Helpdesk::start(&tenant, "desk-escalate", &[]).await;
    let saga_id = SagaId::new();
    let event = RemediationProgress {
        saga_id,
        user: tenant.upn("ada"),
        milestone: "needs-attention:0:5".into(),
        stage: Stage::NeedsAttention,
        headline: "Needs attention: undoing MoveBack keeps failing.".into(),
        details: vec!["LDAP busy".into()],
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    };
    let envelope = Envelope::new(event)
        .with_saga(saga_id)
        .with_ticket(TicketRef {
            system: TicketSystem::Jira,
            key: "HELP-11".into(),
        });
    // The broker delivers it twice (the relay's confirm was lost, say).
    let handled = helpdesk.gateway_handled().await;
    helpdesk.detour.bus.publish(&envelope).await;
    helpdesk.detour.bus.publish(&envelope).await;
    eventually(Duration::from_secs(30), "the escalation", || async {
        let issue = helpdesk.desk.jira_issue("HELP-11").await.ok()?;
        (issue["fields"]["status"]["name"] == "Escalated").then_some(())
    })
    .await;
    helpdesk.gateway_handled_more(handled, 2).await;
    let comments = helpdesk.desk.jira_comments("HELP-11").await.unwrap();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("Needs attention"), "{comments:?}");
    assert!(
        comments[0].contains(&format!("Saga: {saga_id}")),
        "{comments:?}"
    );
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_rest_v3_gets_document_format_comments_written_once() {
    let tenant = tenant_with_issues(
        "desk-v3",
        &["ada"],
        &[("HELP-13", &["detour", "detour-dry-run"])],
    )
    .await;
    let helpdesk = Helpdesk::start_with(
        &tenant,
        "desk-v3",
        &[],
        &[("DETOUR__JIRA__API_VERSION", "3")],
    )
    .await;
    helpdesk.file_jira("HELP-13", "v3").await;
    let documents = eventually(Duration::from_secs(60), "the plan", || async {
        let documents = helpdesk.desk.jira_documents("HELP-13").await.ok()?;
        (!documents.is_empty()).then_some(documents)
    })
    .await;
    // A document: paragraphs of text nodes, the marker among them.
    let document = documents[0].clone();
    assert_eq!(document["type"], "doc", "{document}");
    let text = ticket_gateway::inbound::mapping::plain_text(&document);
    assert!(
        text.contains("Dry run") && text.contains("detour-ref: "),
        "{text}"
    );
    // The final event delivered again finds its marker inside the document: no second comment.
    let saga = helpdesk.sagas_for("jira:HELP-13").await[0]["saga_id"].clone();
    let saga_id: SagaId = serde_json::from_value(saga).unwrap();
    let again = RemediationProgress {
        saga_id,
        user: tenant.upn("ada"),
        milestone: "final".into(),
        stage: Stage::Final(Outcome::Planned),
        headline: "Dry run (delivered again).".into(),
        details: Vec::new(),
        trace_id: None,
    };
    let ticket = TicketRef {
        system: TicketSystem::Jira,
        key: "HELP-13".into(),
    };
    let handled = helpdesk.gateway_handled().await;
    helpdesk
        .detour
        .bus
        .publish(&Envelope::new(again).with_saga(saga_id).with_ticket(ticket))
        .await;
    helpdesk.gateway_handled_more(handled, 1).await;
    assert_eq!(
        helpdesk.desk.jira_comments("HELP-13").await.unwrap().len(),
        1
    );
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servicenow_incident_waits_for_its_approval_field() {
    let tenant = tenant_with_incident("desk-snow-approval", "INC0010002").await;
    let helpdesk = Helpdesk::start(
        &tenant,
        "desk-snow-approval",
        &[("DETOUR__SAGA__APPROVAL_REQUIRED", "true")],
    )
    .await;
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(&tenant, &ada).await;
    let mut incident = helpdesk.desk.incident("INC0010002").await.unwrap();
    let sys_id = incident["sys_id"].as_str().unwrap().to_owned();
    incident["operation"] = json!("insert");
    let (status, _) = helpdesk.desk.servicenow_webhook(&incident).await.unwrap();
    assert_eq!(status, 202);
    eventually(Duration::from_secs(60), "the approval request", || async {
        let notes = helpdesk.desk.work_notes(&sys_id).await.ok()?;
        notes
            .iter()
            .any(|n| n.contains("Waiting for approval"))
            .then_some(())
    })
    .await;
    assert_eq!(
        cloud_user(&tenant, &ada).await,
        before,
        "nothing before approval"
    );

    // The approver sets the incident's approval field; the business rule sends the update.
    incident["operation"] = json!("update");
    incident["approval"] = json!("approved");
    incident["sys_updated_by"] = json!("grace.hopper");
    let (status, answer) = helpdesk.desk.servicenow_webhook(&incident).await.unwrap();
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("approval-sent")),
        "{answer}"
    );
    let notes = final_work_notes(&helpdesk.desk, &sys_id).await;
    assert!(
        story(&notes).contains("Outcome: fixed."),
        "{}",
        story(&notes)
    );
    assert_fixed(&tenant, &ada, &address, &before).await;
    helpdesk.detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_past_the_first_page_of_comments_still_stops_a_repeat() {
    let tenant = tenant_with_issues("desk-pages", &["ada"], &[("HELP-14", &["detour"])]).await;
    let helpdesk = Helpdesk::start(&tenant, "desk-pages", &[]).await;
    // People have said a lot on this ticket: more than one page of comments.
    for n in 0..120 {
        let status = helpdesk
            .desk
            .client
            .post(format!("{}/rest/api/2/issue/HELP-14/comment", tenant.base))
            .basic_auth(desk::JIRA_EMAIL, Some(desk::JIRA_TOKEN))
            .json(&json!({ "body": format!("comment {n}") }))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success());
    }
    let saga_id = SagaId::new();
    let event = RemediationProgress {
        saga_id,
        user: tenant.upn("ada"),
        milestone: "step:restored".into(),
        stage: Stage::Phase,
        headline: "Restored.".into(),
        details: Vec::new(),
        trace_id: None,
    };
    let envelope = Envelope::new(event)
        .with_saga(saga_id)
        .with_ticket(TicketRef {
            system: TicketSystem::Jira,
            key: "HELP-14".into(),
        });
    helpdesk.detour.bus.publish(&envelope).await;
    eventually(Duration::from_secs(30), "Detour's comment", || async {
        (comment_count(&helpdesk.desk, "HELP-14").await == 121).then_some(())
    })
    .await;
    // Delivered again: its marker is on the second page.
    let handled = helpdesk.gateway_handled().await;
    helpdesk.detour.bus.publish(&envelope).await;
    helpdesk.gateway_handled_more(handled, 1).await;
    assert_eq!(
        comment_count(&helpdesk.desk, "HELP-14").await,
        121,
        "one comment from Detour, not two"
    );
    helpdesk.detour.bus.stop().await;
}

/// How many comments the issue has (the `total` of Jira's first page).
async fn comment_count(desk: &Desk, key: &str) -> u64 {
    let page: Value = desk
        .client
        .get(format!(
            "{}/rest/api/2/issue/{key}/comment?maxResults=1",
            desk.tickets
        ))
        .basic_auth(desk::JIRA_EMAIL, Some(desk::JIRA_TOKEN))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["total"].as_u64().unwrap_or_default()
}
