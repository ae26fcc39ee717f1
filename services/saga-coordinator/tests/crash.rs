//! Crash safety: the coordinator's real binary is killed with SIGKILL at random moments while
//! sagas run, and restarted on the same store, again and again. Every saga must still end
//! completed, and every effect in the world must have happened exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::{process::Stdio, time::Duration};

use detour_testkit::{
    InstantWorld, TestSqlite, TestVhost,
    instant_world::{WORLD_BASE, WORLD_DOMAIN, WORLD_SKU},
};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const SAGAS: usize = 24;
const KILLS: usize = 12;

/// The coordinator as a process, with everything it needs in its environment.
struct Coordinator {
    env: Vec<(String, String)>,
    port: u16,
    child: Option<Child>,
}

impl Coordinator {
    async fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_saga-coordinator"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let ready = format!("http://127.0.0.1:{}/readyz", self.port);
        detour_testkit::eventually(
            Duration::from_secs(30),
            "the coordinator to start",
            || async {
                let response = reqwest::get(&ready).await.ok()?;
                response.status().is_success().then_some(())
            },
        )
        .await;
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small seeded generator (xorshift), so a failing run can be repeated from its seed.
fn pauses(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed.max(1);
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        20 + x % 400
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sagas_killed_mid_flight_any_number_of_times_end_completed_with_every_effect_once() {
    let vhost = TestVhost::create("crash").await.unwrap();
    let store = TestSqlite::create("crash").unwrap();
    let port = free_port();
    let env: Vec<(String, String)> = [
        ("DETOUR__AMQP__HOST", vhost.host.clone()),
        ("DETOUR__AMQP__PORT", vhost.port.to_string()),
        ("DETOUR__AMQP__USERNAME", vhost.username.clone()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.clone()),
        ("DETOUR__AMQP__VHOST", vhost.name.clone()),
        ("DETOUR__HTTP__LISTEN", format!("127.0.0.1:{port}")),
        ("DETOUR__TELEMETRY__LOG_FILTER", "error".into()),
        ("DETOUR__STORE__URL", store.url.clone()),
        ("DETOUR__SAGA__COEXISTENCE_DOMAIN", WORLD_DOMAIN.into()),
        (
            "DETOUR__SAGA__PARKING_OU",
            format!("OU=Parked,{WORLD_BASE}"),
        ),
        ("DETOUR__SAGA__TEMPORARY_SKU", WORLD_SKU.to_string()),
        ("DETOUR__SAGA__POLL_EVERY_MS", "100".into()),
        ("DETOUR__SAGA__TIMER_TICK_MS", "50".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    // The broker settings the coordinator reads from that environment, for the world too.
    let amqp = detour_service::load_settings(
        &detour_service::ServiceSpec::new(
            detour_contracts::Service::SagaCoordinator,
            saga_coordinator::DEFAULT_PORT,
        ),
        detour_config::Sources::from_pairs(
            String::new(),
            env.iter()
                .filter(|(k, _)| k.starts_with("DETOUR__AMQP__"))
                .map(|(k, v)| (k.as_str(), v.as_str())),
        ),
    )
    .unwrap()
    .amqp;
    let world = InstantWorld::start(amqp).await.unwrap();
    let mut coordinator = Coordinator {
        env,
        port,
        child: None,
    };
    coordinator.start().await;
    let api = format!("http://127.0.0.1:{port}/api/v1");
    let client = reqwest::Client::new();
    let users: Vec<String> = (0..SAGAS)
        .map(|n| format!("crash{n}@bench.example"))
        .collect();
    let seed = std::env::var("DETOUR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_u64);
    let mut pause = pauses(seed);

    // Start the sagas in waves while the coordinator keeps dying under them.
    let mut ids = Vec::new();
    for (round, wave) in users.chunks(SAGAS / KILLS.min(SAGAS)).enumerate() {
        for user in wave {
            let reply: Value = client
                .post(format!("{api}/sagas"))
                .json(&json!({ "user": user }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            ids.push(reply["saga_id"].as_str().unwrap().to_owned());
        }
        if round < KILLS {
            tokio::time::sleep(Duration::from_millis(pause.next().unwrap())).await;
            coordinator.kill().await;
            coordinator.start().await;
        }
    }

    let list = format!("{api}/sagas?status=completed&limit=1000");
    detour_testkit::eventually(
        Duration::from_secs(120),
        "every saga to complete",
        || async {
            let done: Value = client.get(&list).send().await.ok()?.json().await.ok()?;
            (done["sagas"].as_array()?.len() == SAGAS).then_some(())
        },
    )
    .await;
    for user in &users {
        let effects = world.effects(user);
        let once = [
            ("descoped", effects.descoped),
            ("deleted by sync", effects.deleted_by_sync),
            ("restored", effects.restored),
            ("licensed", effects.licensed),
            ("address added", effects.address_added),
            ("rescoped", effects.rescoped),
            ("matched by sync", effects.matched_by_sync),
            ("unlicensed", effects.unlicensed),
        ];
        for (effect, count) in once {
            assert_eq!(count, 1, "{user}: {effect} {count} times (seed {seed})");
        }
    }
    coordinator.kill().await;
    world.stop();
}
