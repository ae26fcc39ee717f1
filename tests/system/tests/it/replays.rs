//! Replays on the real stack: every command a finished saga sent, delivered again, changes
//! nothing, whichever way sync-trigger reaches the sync engine (the agent API, a Connect
//! server over SSH, Cloud Sync over Graph). Once with its expiry taken off (a copy inside
//! its window, after the saga moved on: the step's own precondition must make it harmless),
//! once as it was, after it expired (dead-lettered unread by the step service).

use std::{collections::BTreeSet, time::Duration};

use detour_bus::{ERROR_KIND_HEADER, Outgoing};
use detour_contracts::{MessageId, SagaId};
use saga_coordinator::store::{Pending, Store};
use serde_json::Value;
use tenant_sim::fixture::{SshConnectServer, TenantFixture};
use time::OffsetDateTime;

use crate::{
    coordinator::{Detour, assert_fixed, cloud_user, timeline},
    procedure::step_services_reaching_connect,
};

const STEP_SERVICES: [&str; 4] = ["ad-ops", "sync-trigger", "cloud-directory", "mailbox-ops"];

/// Deadlines short enough that the copies' expiry comes within the test.
const DEADLINES: [(&str, &str); 3] = [
    ("DETOUR__SAGA__ACTION_DEADLINE_MS", "10000"),
    ("DETOUR__SAGA__WAIT_DEADLINE_MS", "15000"),
    ("DETOUR__SAGA__STRATEGIES", "round-trip"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_a_finished_saga_replayed_changes_nothing() {
    let tenant = TenantFixture::start("replay", &["ada"], |_| {}).await;
    let detour = Detour::start(&tenant, "replay", &DEADLINES).await;
    replays_change_nothing(&tenant, &detour).await;
    detour.bus.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_commands_change_nothing_with_cycles_run_over_ssh() {
    let tenant = TenantFixture::start("replay-ssh", &["ada"], |_| {}).await;
    let ssh = SshConnectServer::start(&tenant).await;
    let steps = step_services_reaching_connect(&tenant, ssh.sync_trigger_env());
    let detour = Detour::start_services(&tenant, "replay-ssh", &DEADLINES, steps, Vec::new()).await;
    replays_change_nothing(&tenant, &detour).await;
    detour.bus.stop().await;
}

/// On Cloud Sync a copy of the return's on-demand provisioning runs again: for a user back in
/// scope and matched, it updates the same object and adds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_commands_change_nothing_on_a_cloud_sync_tenant() {
    let tenant = TenantFixture::start("replay-cs", &["ada"], |s| {
        TenantFixture::on_cloud_sync(s, 2)
    })
    .await;
    let steps = step_services_reaching_connect(&tenant, tenant.cloud_sync_env());
    let detour = Detour::start_services(&tenant, "replay-cs", &DEADLINES, steps, Vec::new()).await;
    replays_change_nothing(&tenant, &detour).await;
    let on_demand = tenant.provisioned_on_demand().await;
    assert_eq!(
        on_demand.len(),
        2,
        "the return's provisioning, then its copy: {on_demand:?}"
    );
    detour.bus.stop().await;
}

/// Runs the seed's round trip for `ada`, then delivers every command it sent again, inside
/// and after their expiry; nothing changes.
async fn replays_change_nothing(tenant: &TenantFixture, detour: &Detour) {
    let ada = tenant.upn("ada");
    let address = format!("{}@contoso.mail.onmicrosoft.com", tenant.sam("ada"));
    let before = cloud_user(tenant, &ada).await;
    let saga = detour.start_saga(&ada, false).await;
    let done = detour.settled(&saga).await;
    assert_eq!(done.status, "completed", "{}", timeline(&done));

    let store = Store::open(&detour.store.url).await.unwrap();
    let commands = store
        .commands_of(SagaId::from(saga.parse::<uuid::Uuid>().unwrap()))
        .await
        .unwrap();
    let types: BTreeSet<&str> = commands
        .iter()
        .map(|c| c.message.message_type.as_str())
        .collect();
    for expected in [
        "move-user",
        "move-user-to-dn",
        "request-sync-cycle",
        "restore-user",
        "assign-license",
        "remove-license",
        "add-email-address",
    ] {
        assert!(types.contains(expected), "{expected} not among {types:?}");
    }

    // Inside its window: each copy is carried out, and its precondition or idempotence makes
    // it change nothing. Every one is answered (done already, or refused as stale).
    let mut answers = detour.bus.listen(&["#"]).await.unwrap();
    let replayed = replay(detour, &commands, Expiry::Removed).await;
    let mut unanswered: BTreeSet<String> = replayed.into_iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !unanswered.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to {} cop(ies)",
            unanswered.len()
        );
        if let Some(event) = answers.next(Duration::from_millis(500)).await
            && let Ok(header) = event.header()
            && let Some(cause) = header.causation_id
        {
            unanswered.remove(&cause.to_string());
        }
    }
    assert_untouched(tenant, detour, &saga, &ada, &address, &before).await;
    // The descope and the temporary licence are refused by their fences (answered with the
    // refusal, and dead-lettered with it); everything else was done already.
    let mut refused = BTreeSet::new();
    for service in STEP_SERVICES {
        for (headers, body) in detour
            .bus
            .vhost()
            .take_all(&format!("{service}.dead-letter"))
            .await
            .unwrap()
        {
            let error = header(&headers, detour_bus::ERROR_HEADER).unwrap_or_default();
            assert!(
                error.starts_with("stale"),
                "{service} refused a copy: {error}"
            );
            let body: Value = serde_json::from_slice(&body).unwrap();
            refused.insert(body["type"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        refused,
        BTreeSet::from(["assign-license".to_owned(), "move-user".to_owned()])
    );

    // After its expiry: dead-lettered as expired, unread.
    let last_expiry = commands.iter().filter_map(expires_at).max().unwrap();
    let wait = last_expiry - OffsetDateTime::now_utc();
    if wait.is_positive() {
        tokio::time::sleep(wait.unsigned_abs() + Duration::from_millis(200)).await;
    }
    replay(detour, &commands, Expiry::AsSent).await;
    let mut expired = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while expired < commands.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{expired} of {} copies dead-lettered",
            commands.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        for service in STEP_SERVICES {
            let queue = format!("{service}.dead-letter");
            for (headers, _) in detour.bus.vhost().take_all(&queue).await.unwrap() {
                let kind = header(&headers, ERROR_KIND_HEADER);
                assert_eq!(kind.as_deref(), Some("expired"), "only expired copies die");
                expired += 1;
            }
        }
    }
    assert_eq!(expired, commands.len(), "each copy dead-lettered once");
    assert_untouched(tenant, detour, &saga, &ada, &address, &before).await;
}

/// The user is still fixed and in scope, and the saga still says so.
async fn assert_untouched(
    tenant: &TenantFixture,
    detour: &Detour,
    saga: &str,
    upn: &str,
    address: &str,
    before: &Value,
) {
    assert_fixed(tenant, upn, address, before).await;
    assert_eq!(
        detour_system::bulk::out_of_scope(tenant).await.unwrap(),
        0,
        "no one is parked"
    );
    assert_eq!(detour.show(saga).await.status, "completed");
}

fn header(headers: &lapin::types::FieldTable, name: &str) -> Option<String> {
    headers
        .inner()
        .get(name)
        .and_then(|value| value.as_long_string())
        .map(|text| String::from_utf8_lossy(text.as_bytes()).into_owned())
}

#[derive(Debug, Clone, Copy)]
enum Expiry {
    Removed,
    AsSent,
}

fn expires_at(command: &Pending) -> Option<OffsetDateTime> {
    let body: Value = serde_json::from_str(&command.message.body).ok()?;
    OffsetDateTime::parse(
        body["expires_at"].as_str()?,
        &time::format_description::well_known::Rfc3339,
    )
    .ok()
}

/// Publishes a copy of each command (under a new message id, so its answer can be told from
/// the original's); returns the copies' ids.
async fn replay(detour: &Detour, commands: &[Pending], expiry: Expiry) -> Vec<String> {
    let mut ids = Vec::new();
    for command in commands {
        let mut body: Value = serde_json::from_str(&command.message.body).unwrap();
        let id = MessageId::new().to_string();
        body["message_id"] = Value::String(id.clone());
        if let Expiry::Removed = expiry {
            body.as_object_mut().unwrap().remove("expires_at");
        }
        let bytes = serde_json::to_vec(&body).unwrap();
        detour
            .bus
            .publisher()
            .publish_outgoing(Outgoing {
                exchange: &command.message.exchange,
                routing_key: &command.message.routing_key,
                body: &bytes,
                message_id: &id,
                message_type: &command.message.message_type,
                headers: Vec::new(),
            })
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}
