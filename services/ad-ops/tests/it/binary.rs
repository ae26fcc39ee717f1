//! The ad-ops binary as an operator starts it. Every service shares this entry point; these
//! tests run it through one of them.

use std::{
    io::ErrorKind,
    net::TcpListener,
    process::{Command, Stdio},
    time::Duration,
};

use detour_testkit::{Stack, TestVhost, eventually};

const BINARY: &str = env!("CARGO_BIN_EXE_ad-ops");

#[test]
fn bad_settings_exit_64_with_every_problem_and_no_connection_attempt() {
    // A stand-in broker that records whether anything connected.
    let broker = TcpListener::bind("127.0.0.1:0").unwrap();
    broker.set_nonblocking(true).unwrap();
    let output = Command::new(BINARY)
        .env_remove("DETOUR_CONFIG")
        .env(
            "DETOUR__AMQP__PORT",
            broker.local_addr().unwrap().port().to_string(),
        )
        .env("DETOUR__AMQP__PASSWORD", "hunter2-do-not-print")
        .env("DETOUR__AMQP__PREFETCH", "0")
        .env("DETOUR__TELEMETRY__OTLP_ENDPOINT", "ftp://collector")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("amqp.prefetch"), "{stderr}");
    assert!(stderr.contains("telemetry.otlp_endpoint"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "a secret was printed: {stderr}"
    );
    assert_eq!(
        broker.accept().map(drop).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "it connected anyway"
    );
}

#[test]
fn help_explains_how_to_configure_it() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("DETOUR__SECTION__KEY") && text.contains("--config"),
        "{text}"
    );
    let output = Command::new(BINARY).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(64));
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let vhost = TestVhost::create("sigterm").await.unwrap();
    let port = detour_testkit::free_port();
    let mut child = tokio::process::Command::new(BINARY)
        .env_remove("DETOUR_CONFIG")
        .env("DETOUR__AMQP__HOST", &vhost.host)
        .env("DETOUR__AMQP__PORT", vhost.port.to_string())
        .env("DETOUR__AMQP__USERNAME", &vhost.username)
        .env("DETOUR__AMQP__PASSWORD", &vhost.password)
        .env("DETOUR__AMQP__VHOST", &vhost.name)
        .env("DETOUR__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .envs(Stack::load().unwrap().ldap_service_env().unwrap())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/readyz");
    eventually(Duration::from_secs(20), "ad-ops ready", || async {
        client
            .get(&url)
            .send()
            .await
            .ok()?
            .status()
            .is_success()
            .then_some(())
    })
    .await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exit after SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
