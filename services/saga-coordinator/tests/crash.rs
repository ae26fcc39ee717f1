//! Crash safety: the coordinator's real binary is killed with SIGKILL at random moments while
//! sagas run, and restarted on the same store, again and again. Every saga must still end
//! completed, and every effect in the world must have happened exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::{process::Stdio, time::Duration};

use detour_testkit::free_port;
use support::{Backend, Bench};
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
        support::ready(self.port).await;
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }
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
    let bench = Bench::new("crash", Backend::Sqlite).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut coordinator = Coordinator {
        env: bench.env(&[
            ("DETOUR__HTTP__LISTEN", &listen),
            ("DETOUR__TELEMETRY__LOG_FILTER", "error"),
            ("DETOUR__SAGA__POLL_EVERY_MS", "100"),
            ("DETOUR__SAGA__TIMER_TICK_MS", "50"),
        ]),
        port,
        child: None,
    };
    coordinator.start().await;
    let api = format!("http://{listen}/api/v1");
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
    for (round, wave) in users.chunks(SAGAS / KILLS).enumerate() {
        for user in wave {
            support::start_saga(&client, &api, user).await;
        }
        if round < KILLS {
            tokio::time::sleep(Duration::from_millis(pause.next().unwrap())).await;
            coordinator.kill().await;
            coordinator.start().await;
        }
    }

    support::all_completed(&client, &api, SAGAS, Duration::from_secs(120)).await;
    for user in &users {
        support::assert_each_effect_once(
            &bench.world.effects(user),
            &format!("{user} (seed {seed})"),
        );
    }
    coordinator.kill().await;
    bench.world.stop();
}
