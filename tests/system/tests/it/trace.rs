//! One remediation is one trace: the six services run as their real binaries (each exporting
//! its own spans over OTLP to a receiver in this test), a Jira ticket is filed through the
//! gateway, and every service's spans land in the saga's trace, linked parent to child along
//! the message flow and tagged with the saga, the step and the ticket. No secret appears in
//! any span or log line.

use std::{collections::HashSet, path::PathBuf, time::Duration};

use base64::Engine;
use detour_config::Secret;
use detour_contracts::Service;
use detour_system::{
    desk::{self, Desk, tickets_section},
    fleet::{Fleet, Launch},
    remediation::{GraphReader, file_jira_ticket, fixed_checks, follow_ticket, trace_id_in},
    services::{JIRA_WEBHOOK_SECRET, WEBHOOK_TOKEN, gateway_env},
};
use detour_testkit::{OtlpReceiver, Stack, TestSqlite, TestVhost, free_port};
use serde_json::json;
use tenant_sim::fixture::{E3, TenantFixture};

/// The service binaries, built (or found up to date) the way `cargo build` builds them.
fn service_binaries() -> PathBuf {
    let mut build = std::process::Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--bins"]);
    for service in Service::ALL {
        build.args(["-p", service.as_str()]);
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cannot build the services");
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_owned()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_remediation_is_one_trace_across_all_six_services_and_no_secret_is_in_sight() {
    let bin_dir = service_binaries();
    let receiver = OtlpReceiver::start().await.unwrap();
    let tenant = TenantFixture::start("trace", &["ada"], |scenario| {
        let ada = scenario["ad"]["users"][0]["user_principal_name"].clone();
        scenario["tickets"] = tickets_section(
            &[
                json!({ "key": "HELP-77", "summary": "No onmicrosoft.com address",
                "description": format!("User {}", ada.as_str().unwrap()), "labels": ["detour"] }),
            ],
            &[],
        );
    })
    .await;
    let vhost = TestVhost::create("trace").await.unwrap();
    let store = TestSqlite::create("trace").unwrap();
    let amqp_port = vhost.port.to_string();
    let shared = pairs(&[
        ("DETOUR__AMQP__HOST", &vhost.host),
        ("DETOUR__AMQP__PORT", &amqp_port),
        ("DETOUR__AMQP__USERNAME", &vhost.username),
        ("DETOUR__AMQP__PASSWORD", &vhost.password),
        ("DETOUR__AMQP__VHOST", &vhost.name),
        ("DETOUR__TELEMETRY__OTLP_ENDPOINT", &receiver.endpoint()),
        ("DETOUR__TELEMETRY__LOG_FILTER", "debug"),
    ]);
    let stack = Stack::load().unwrap();
    let mut ldap = stack.ldap_service_env().unwrap();
    ldap.retain(|(k, _)| k != "DETOUR__LDAP__SEARCH_BASE");
    ldap.push(("DETOUR__LDAP__SEARCH_BASE".into(), tenant.ou.dn.clone()));
    let parked = tenant.parked();
    let own = |service| match service {
        Service::AdOps => ldap.clone(),
        Service::SyncTrigger => pairs(&[
            ("DETOUR__CONNECT__BASE_URL", &tenant.base),
            ("DETOUR__CONNECT__AGENT_KEY", &tenant.agent_key),
            ("DETOUR__CONNECT__COALESCE_WINDOW_MS", "100"),
            ("DETOUR__CONNECT__POLL_INTERVAL_MS", "100"),
        ]),
        Service::CloudDirectory => tenant.entra_env("GRAPH"),
        Service::MailboxOps => tenant.entra_env("EXCHANGE"),
        Service::SagaCoordinator => pairs(&[
            ("DETOUR__STORE__URL", &store.url),
            (
                "DETOUR__SAGA__COEXISTENCE_DOMAIN",
                "contoso.mail.onmicrosoft.com",
            ),
            ("DETOUR__SAGA__PARKING_OU", &parked),
            ("DETOUR__SAGA__TEMPORARY_SKU", E3),
            ("DETOUR__SAGA__DEFAULT_USAGE_LOCATION", "PL"),
            ("DETOUR__SAGA__POLL_EVERY_MS", "200"),
            ("DETOUR__SAGA__TIMER_TICK_MS", "50"),
        ]),
        Service::TicketGateway => gateway_env(&tenant.base),
    };
    let launches: Vec<Launch> = Service::ALL
        .into_iter()
        .map(|service| Launch {
            service,
            port: free_port(),
            env: shared.iter().cloned().chain(own(service)).collect(),
        })
        .collect();
    let gateway_port = launches[5].port;
    let log_dir = std::env::temp_dir().join(format!("detour-trace-{}", vhost.name));
    let mut fleet = Fleet::start(&bin_dir, &launches, &log_dir).unwrap();
    fleet
        .wait_ready(Duration::from_secs(60), |_, _| {})
        .await
        .unwrap();

    let ada = tenant.upn("ada");
    let graph = GraphReader {
        client: reqwest::Client::new(),
        base: tenant.base.clone(),
        tenant_id: tenant.tenant_id.to_string(),
        client_id: tenant.client_id.to_string(),
        secret: tenant.secret.clone(),
    };
    let before = graph.user(&ada).await.unwrap();
    let desk = Desk {
        client: reqwest::Client::new(),
        gateway: format!("http://127.0.0.1:{gateway_port}"),
        tickets: tenant.base.clone(),
        jira_secret: Secret::new(JIRA_WEBHOOK_SECRET),
        webhook_token: Secret::new(WEBHOOK_TOKEN),
    };
    let answer = file_jira_ticket(&desk, "HELP-77", "trace-1").await.unwrap();
    let comments = follow_ticket(&desk, "HELP-77", Duration::from_secs(120), |_| {})
        .await
        .unwrap();
    let after = graph.user(&ada).await.unwrap();
    let codes = fleet.stop(Duration::from_secs(30)).await;
    for (service, code) in &codes {
        assert_eq!(*code, Some(0), "{service} did not stop cleanly");
    }
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    for (check, holds) in fixed_checks(&before, &after, &address) {
        assert!(holds, "{check}: {}", comments.join("\n---\n"));
    }

    // One trace, from the webhook to the final comment.
    let trace_id = trace_id_in(&comments).expect("the final comment names the trace");
    assert_eq!(answer["trace_id"], trace_id.as_str(), "the webhook's trace");
    let final_comment = comments.last().unwrap();
    let saga_id = final_comment
        .lines()
        .find_map(|line| line.strip_prefix("Saga: "))
        .unwrap()
        .to_owned();
    let all = receiver.spans();
    let spans: Vec<_> = all.iter().filter(|s| s.trace_id == trace_id).collect();
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {roots:#?}");
    assert_eq!(roots[0].service, "ticket-gateway", "the webhook starts it");
    for span in &spans {
        assert!(
            span.parent_span_id.is_empty() || ids.contains(span.parent_span_id.as_str()),
            "{} {:?} has a parent outside the trace",
            span.service,
            span.name
        );
    }
    for service in Service::ALL {
        let tagged = spans.iter().any(|s| {
            s.service == service.as_str()
                && s.attributes.get("detour.saga_id") == Some(&saga_id)
                && s.attributes.get("detour.ticket").map(String::as_str) == Some("jira:HELP-77")
                && s.attributes
                    .get("detour.step")
                    .is_some_and(|step| !step.is_empty())
        });
        assert!(
            tagged,
            "{service} has no span tagged with the saga, step and ticket"
        );
    }
    // The producer and consumer halves of a message are parent and child.
    let kinds: HashSet<i32> = spans.iter().map(|s| s.kind).collect();
    assert!(
        kinds.contains(&4) && kinds.contains(&5),
        "producer and consumer spans: {kinds:?}"
    );

    // No secret in any span (of any trace) or log line.
    let jira_basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        desk::JIRA_EMAIL,
        desk::JIRA_TOKEN
    ));
    let mut secrets = vec![
        tenant.secret.clone(),
        tenant.agent_key.clone(),
        stack
            .secret("DETOUR_LDAP_BIND_PASSWORD")
            .unwrap()
            .trim()
            .to_owned(),
        desk::JIRA_TOKEN.to_owned(),
        desk::SERVICENOW_PASSWORD.to_owned(),
        JIRA_WEBHOOK_SECRET.to_owned(),
        WEBHOOK_TOKEN.to_owned(),
        jira_basic,
    ];
    // The broker's password, unless it is the well-known guest one (which is also the user).
    if vhost.password != vhost.username {
        secrets.push(vhost.password.clone());
    }
    for span in &all {
        let text = format!("{} {:?}", span.name, span.attributes);
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret in {} span {:?}",
                span.service,
                span.name
            );
        }
    }
    let mut lines = 0;
    for service in Service::ALL {
        let log = std::fs::read_to_string(log_dir.join(format!("{service}.log"))).unwrap();
        lines += log.lines().count();
        for (which, secret) in secrets.iter().enumerate() {
            let line = log.lines().find(|line| line.contains(secret.as_str()));
            assert!(
                line.is_none(),
                "secret #{which} in {service}'s log, {} characters into: {:.60}",
                line.and_then(|l| l.find(secret.as_str()))
                    .unwrap_or_default(),
                line.unwrap_or_default()
            );
        }
    }
    assert!(
        lines > 100,
        "the logs were written at debug level ({lines} lines)"
    );
    let _ = std::fs::remove_dir_all(&log_dir);
}
