//! The SSH backend end to end: sync-trigger signs in to a real OpenSSH server with its key,
//! pins the server's host key, and runs the ADSync cmdlets there; the Connect server behind
//! the shell is tenant-sim's.

use std::{sync::Arc, time::Duration};

use detour_contracts::{
    Dn, Envelope,
    connect_agent::{ObjectOutcome, RunOutcome},
    sync_trigger::{ConnectStateRead, ReadConnectState, SyncCycleCompleted, SyncCycleRefused},
};
use detour_testkit::eventually;
use serde_json::json;
use sync_trigger::{
    connect::{Connect, ConnectError},
    ssh::{SshConnect, Target},
};
use uuid::Uuid;

use crate::support::{Harness, request};

/// Characters PowerShell would act on in a command line, and that AD takes in a name as is.
const HOSTILE: &str =
    "O'Brien $(Start-ADSyncSyncCycle) `whoami` \u{2018}x\u{2019} | @{a} & $env:PATH";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_two_cycles_run_over_ssh_and_say_what_became_of_the_user() {
    let mut harness = Harness::start_over_ssh("st-ssh-seed", &["ada"], |_| {}).await;
    let tenant = &harness.tenant;
    let ada = tenant.guid("ada").await;
    let before = tenant.runs().await.len();
    tenant
        .move_user("ada", &tenant.staff(), &tenant.parked())
        .await;
    let parked = format!("CN=ada {},{}", tenant.tag, tenant.parked());
    let out = harness
        .service
        .send(request(&[(ada, parked.clone())]))
        .await
        .decode::<SyncCycleCompleted>();
    let run = out.runs.last().unwrap();
    assert_eq!(run.outcome, RunOutcome::Success);
    assert_eq!(
        run.stats.deletes, 1,
        "the cloud export deleted her: {run:?}"
    );
    assert_eq!(run.objects.len(), 1);
    assert_eq!(run.objects[0].outcome, ObjectOutcome::Filtered);
    assert_eq!(run.objects[0].distinguished_name, parked);

    let tenant = &harness.tenant;
    tenant
        .move_user("ada", &tenant.parked(), &tenant.staff())
        .await;
    let home = format!("CN=ada {},{}", tenant.tag, tenant.staff());
    let back = harness
        .service
        .send(request(&[(ada, home)]))
        .await
        .decode::<SyncCycleCompleted>();
    let run = back.runs.last().unwrap();
    assert_eq!(run.objects[0].outcome, ObjectOutcome::Updated, "{run:?}");
    assert_eq!(
        harness.tenant.runs().await.len(),
        before + 2,
        "one cycle each"
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_state_reads_over_ssh() {
    let mut harness = Harness::start_over_ssh("st-ssh-state", &["ada"], |_| {}).await;
    let state = harness
        .service
        .send(ReadConnectState {})
        .await
        .decode::<ConnectStateRead>();
    assert_eq!(state.connect_version, "2.4.18.0");
    assert!(state.scheduler.sync_cycle_enabled);
    assert!(!state.scheduler.staging_mode_enabled);
    assert!(state.deletion_threshold_enabled);
    assert_eq!(state.deletion_threshold, 500);
    let staff: Dn = harness.tenant.staff().parse().unwrap();
    assert!(state.included_containers.iter().any(|c| c.same_as(&staff)));
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_travel_as_data_and_run_nothing() {
    let mut harness = Harness::start_over_ssh("st-ssh-hostile", &["eve"], |scenario| {
        for user in scenario["ad"]["users"].as_array_mut().unwrap() {
            let name = user["display_name"]
                .as_str()
                .unwrap()
                .replacen("eve", HOSTILE, 1);
            user["display_name"] = json!(name);
        }
    })
    .await;
    let tenant = &harness.tenant;
    let eve = tenant.guid(HOSTILE).await;
    let before = tenant.runs().await.len();
    let real = format!("CN={HOSTILE} {},{}", tenant.tag, tenant.staff());
    // Quotes of every kind, `;`, `$`, backticks, escaped as a DN escapes them.
    let missing = format!(
        "CN=x\\\"\\; Start-ADSyncSyncCycle -PolicyType Initial\\; \\\"'\u{201B}`$(1)\\;,{}",
        tenant.staff()
    );
    let answer = harness
        .service
        .send(request(&[
            (eve, real.clone()),
            (Uuid::new_v4(), missing.clone()),
        ]))
        .await
        .decode::<SyncCycleCompleted>();
    let objects = &answer.runs.last().unwrap().objects;
    let found = objects.iter().find(|o| o.object_guid == eve).unwrap();
    assert_eq!(found.outcome, ObjectOutcome::Updated, "{found:?}");
    assert_eq!(found.distinguished_name, real);
    let other = objects.iter().find(|o| o.object_guid != eve).unwrap();
    assert_eq!(other.outcome, ObjectOutcome::Filtered);
    assert_eq!(other.distinguished_name, missing);
    let runs = harness.tenant.runs().await;
    assert_eq!(runs.len(), before + 1, "no cycle but the one asked for");
    assert_eq!(runs[0]["policyType"], "Delta", "the newest, as asked");
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staging_mode_over_ssh_is_a_refusal_and_starts_nothing() {
    let mut harness = Harness::start_over_ssh("st-ssh-staging", &["ada"], |s| {
        s["connect"]["staging_mode"] = json!(true)
    })
    .await;
    let before = harness.tenant.runs().await.len();
    let refused = harness
        .service
        .send(request(&[]))
        .await
        .decode::<SyncCycleRefused>();
    assert_eq!(refused.code, "staging-mode");
    assert_eq!(harness.tenant.runs().await.len(), before);
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aad_is_busy_delays_the_start_and_one_cycle_follows() {
    let mut harness = Harness::start_over_ssh("st-ssh-busy", &["ada"], |_| {}).await;
    harness
        .tenant
        .add_fault(json!({ "api": "connect", "path_contains": "Start-ADSyncSyncCycle", "kind": "busy", "count": 2 }))
        .await;
    let before = harness.tenant.runs().await.len();
    let completed = harness
        .service
        .send(request(&[]))
        .await
        .decode::<SyncCycleCompleted>();
    assert_eq!(completed.runs.last().unwrap().outcome, RunOutcome::Success);
    assert_eq!(harness.tenant.runs().await.len(), before + 1, "one cycle");
    assert_eq!(
        harness.tenant.faults_left().await,
        json!([]),
        "both refusals were met"
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_mid_cycle_is_ridden_out_without_a_second_cycle() {
    let mut harness = Harness::start_over_ssh("st-ssh-drop", &["ada"], |s| {
        s["delays"]["cycle_seconds"] = json!(3.0)
    })
    .await;
    let before = harness.tenant.runs().await.len();
    let asked = Envelope::new(request(&[]));
    harness.service.publish(&asked).await;
    eventually(Duration::from_secs(20), "the cycle to start", || async {
        (harness.tenant.runs().await.len() > before).then_some(())
    })
    .await;
    harness.ssh.as_mut().unwrap().drop_connections().await;
    let answer = harness.service.answers(&[asked.message_id]).await;
    let completed = answer[0].decode::<SyncCycleCompleted>();
    assert_eq!(completed.runs.last().unwrap().outcome, RunOutcome::Success);
    assert_eq!(
        harness.tenant.runs().await.len(),
        before + 1,
        "one cycle only"
    );
    harness.service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_showing_another_host_key_is_refused() {
    let harness = Harness::start_over_ssh("st-ssh-pin", &["ada"], |_| {}).await;
    let ssh = harness.ssh.as_ref().unwrap();
    // Any other server's key (this one is russh's documentation example).
    let impostor = russh::keys::ssh_key::PublicKey::from_openssh(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ",
    )
    .unwrap();
    let client = |host_key| {
        SshConnect::new(
            Target {
                host: "127.0.0.1".into(),
                port: ssh.port,
                user: ssh.user.clone(),
                key: Arc::new(russh::keys::decode_secret_key(&ssh.client_key, None).unwrap()),
                host_key,
                timeout: Duration::from_secs(5),
            },
            ssh.connectors.ad.clone(),
            ssh.connectors.aad.clone(),
        )
    };
    let error = client(impostor).scheduler().await.unwrap_err();
    assert!(
        matches!(&error, ConnectError::Rejected(m) if m.contains("host key") && m.contains("SHA256:")),
        "{error}"
    );
    let pinned = russh::keys::ssh_key::PublicKey::from_openssh(&ssh.host_key).unwrap();
    assert!(client(pinned).scheduler().await.is_ok());
}

/// Twelve objects in one request, more than the lookups run at once and than OpenSSH's
/// sessions per connection: each gets its own answer, the parked ones out of scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dozen_objects_are_looked_up_each_with_its_own_answer() {
    let names: Vec<String> = (0..12).map(|i| format!("u{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut harness = Harness::start_over_ssh("st-ssh-dozen", &refs, |_| {}).await;
    let tenant = &harness.tenant;
    let mut located = Vec::new();
    let mut parked = std::collections::BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        let guid = tenant.guid(name).await;
        let ou = if i % 3 == 0 {
            tenant
                .move_user(name, &tenant.staff(), &tenant.parked())
                .await;
            parked.insert(guid);
            tenant.parked()
        } else {
            tenant.staff()
        };
        located.push((guid, format!("CN={name} {},{ou}", tenant.tag)));
    }
    let answer = harness
        .service
        .send(request(&located))
        .await
        .decode::<SyncCycleCompleted>();
    let objects = &answer.runs.last().unwrap().objects;
    for (guid, dn) in &located {
        let found: Vec<_> = objects.iter().filter(|o| o.object_guid == *guid).collect();
        assert_eq!(found.len(), 1, "{dn}: {objects:?}");
        assert_eq!(&found[0].distinguished_name, dn);
        let expected = if parked.contains(guid) {
            ObjectOutcome::Filtered
        } else {
            ObjectOutcome::Updated
        };
        assert_eq!(found[0].outcome, expected, "{dn}");
    }
    harness.service.stop().await;
}
