//! detourctl against a running coordinator (in this process, on its own vhost and store, with
//! the instant world answering for the step services): what an operator types, and what it
//! prints and exits with.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod support;

use std::process::Output;

use detour_service::RunningApp;
use detour_testkit::instant_world::WORLD_DOMAIN;
use support::{Backend, Bench};

struct Running {
    app: RunningApp,
    bench: Bench,
}

async fn coordinator(approvals: bool) -> Running {
    let bench = Bench::new("detourctl", Backend::Sqlite).await;
    let approvals = if approvals { "true" } else { "false" };
    let app = bench
        .coordinator(&[
            ("DETOUR__SAGA__APPROVAL_REQUIRED", approvals),
            ("DETOUR__API__TOKEN", TOKEN),
        ])
        .await;
    Running { app, bench }
}

const TOKEN: &str = "operator-token-for-tests";

/// Runs detourctl against `running` and returns what it did.
async fn detourctl(running: &Running, args: &[&str]) -> (bool, String) {
    let api = format!("http://{}", running.app.ops_addr);
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::process::Command::new(env!("CARGO_BIN_EXE_detourctl"))
        .arg("--api")
        .arg(&api)
        .env("DETOUR_API_TOKEN", TOKEN)
        .args(args)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_plans_starts_follows_and_lists_sagas() {
    let running = coordinator(false).await;
    let (ok, plan) = detourctl(&running, &["plan", "ada@bench.example"]).await;
    assert!(ok, "{plan}");
    assert!(plan.contains("status: planned"), "{plan}");
    assert!(
        plan.contains("round-trip") && plan.contains(WORLD_DOMAIN),
        "{plan}"
    );

    let (ok, run) = detourctl(
        &running,
        &["start", "ada@bench.example", "--ticket", "jira:HELP-9"],
    )
    .await;
    assert!(ok, "{run}");
    for expected in ["started saga", "Descope", "Verify", "status: completed"] {
        assert!(run.contains(expected), "{expected} missing from:\n{run}");
    }
    assert_eq!(
        running
            .bench
            .world
            .effects("ada@bench.example")
            .address_added,
        1
    );

    let (ok, list) = detourctl(&running, &["list", "--ticket", "jira:HELP-9"]).await;
    assert!(ok, "{list}");
    assert!(
        list.contains("completed") && list.contains("ada@bench.example"),
        "{list}"
    );
    let (ok, wrong) = detourctl(&running, &["start", "not-a-upn"]).await;
    assert!(!ok);
    assert!(wrong.contains("not a UPN"), "{wrong}");
    let (ok, shut_out) = detourctl(&running, &["--token", "guess", "list"]).await;
    assert!(!ok);
    assert!(shut_out.contains("401"), "{shut_out}");
    running.bench.world.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_saga_waits_for_the_approval_of_its_own_plan() {
    let running = coordinator(true).await;
    let (ok, held) = detourctl(&running, &["start", "bob@bench.example"]).await;
    assert!(ok, "{held}");
    assert!(held.contains("status: awaiting-approval"), "{held}");
    let approve_line = held
        .lines()
        .find(|l| l.starts_with("approve with: detourctl approve "))
        .unwrap_or_else(|| panic!("no approval hint in:\n{held}"));
    let words: Vec<&str> = approve_line.split_whitespace().collect();
    let (saga_id, hash) = (words[4], words[5]);
    assert_eq!(running.bench.world.effects("bob@bench.example").descoped, 0);

    let (ok, refused) = detourctl(&running, &["approve", saga_id, "0000000000000000"]).await;
    assert!(!ok);
    assert!(
        refused.contains("409") && refused.contains(hash),
        "{refused}"
    );
    let (ok, approved) = detourctl(&running, &["approve", saga_id, hash]).await;
    assert!(ok, "{approved}");
    let (ok, shown) = detourctl(&running, &["show", saga_id, "--follow"]).await;
    assert!(ok, "{shown}");
    assert!(shown.contains("status: completed"), "{shown}");
    assert_eq!(running.bench.world.effects("bob@bench.example").descoped, 1);
    running.bench.world.stop();
}
