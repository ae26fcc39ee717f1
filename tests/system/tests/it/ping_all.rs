//! All six services started in-process, as their binaries start them: each answers a ping in
//! the round's trace and serves its operations endpoints.

use std::time::Duration;

use detour_config::Sources;
use detour_contracts::Service;
use detour_service::App;
use detour_system::{ping_round::ping_round, services};
use detour_telemetry::{LogFormat, Telemetry, TelemetrySettings};
use detour_testkit::{TestVhost, eventually};

/// A command type the coordinator does not know, addressed to it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Frobnicate {}

impl detour_contracts::Message for Frobnicate {
    const NAME: &'static str = "frobnicate";
    const VERSION: u32 = 1;
    const KIND: detour_contracts::MessageKind = detour_contracts::MessageKind::Command;

    fn routing_key(&self) -> detour_contracts::RoutingKey {
        detour_contracts::RoutingKey::command(Service::SagaCoordinator, Self::NAME)
    }
}

async fn misrouted_commands_are_dead_lettered_with_the_reason(
    vhost: &TestVhost,
    amqp: &detour_bus::AmqpSettings,
) {
    let publisher = detour_bus::Publisher::new(amqp.clone(), "misrouting test");
    publisher
        .publish(&detour_contracts::Envelope::new(Frobnicate {}))
        .await
        .unwrap();
    let dead = eventually(Duration::from_secs(20), "the dead letter", || async {
        let dead = vhost.take_all("saga-coordinator.dead-letter").await.ok()?;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    let (headers, _) = &dead[0];
    let reason = headers
        .inner()
        .get(detour_bus::ERROR_HEADER)
        .and_then(|value| value.as_long_string())
        .map(|text| String::from_utf8_lossy(text.as_bytes()).into_owned())
        .unwrap_or_default();
    assert!(
        reason.contains("does not handle frobnicate") && reason.contains("misrouted"),
        "the dead letter says why: {reason}"
    );
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_services_answer_one_ping_round_in_one_trace_and_serve_ops_endpoints() {
    let quiet = TelemetrySettings {
        otlp_endpoint: String::new(),
        log_filter: "warn".into(),
        log_format: LogFormat::Json,
    };
    let telemetry = Telemetry::install_with_sink("system-test", &quiet, std::io::sink).unwrap();
    let vhost = TestVhost::create("system").await.unwrap();
    let port = vhost.port.to_string();
    let env = [
        ("DETOUR__AMQP__HOST", vhost.host.as_str()),
        ("DETOUR__AMQP__PORT", port.as_str()),
        ("DETOUR__AMQP__USERNAME", vhost.username.as_str()),
        ("DETOUR__AMQP__PASSWORD", vhost.password.as_str()),
        ("DETOUR__AMQP__VHOST", vhost.name.as_str()),
        ("DETOUR__HTTP__LISTEN", "127.0.0.1:0"),
    ];

    let mut running = Vec::new();
    let mut amqp = None;
    for service in Service::ALL {
        let own = services::dev_stack_env(service).unwrap();
        let pairs = env
            .iter()
            .copied()
            .chain(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (spec, settings) =
            services::build(service, Sources::from_pairs(String::new(), pairs)).unwrap();
        amqp.get_or_insert_with(|| settings.amqp.clone());
        running.push(App::new(spec, settings).start().await.unwrap());
    }
    let client = reqwest::Client::new();
    for app in &running {
        let url = format!("http://{}/readyz", app.ops_addr);
        eventually(Duration::from_secs(20), "readiness", || async {
            let response = client.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
    }

    let round = ping_round(
        amqp.as_ref().unwrap(),
        &Service::ALL,
        Duration::from_secs(20),
        |_| {},
    )
    .await
    .unwrap();
    assert!(round.missing.is_empty(), "no pong from {:?}", round.missing);
    assert!(
        round.all_in_one_trace(),
        "pongs outside trace {}: {:?}",
        round.trace_id,
        round.pongs
    );
    // Every service's queue binds what it handles and nothing else: the round's pongs (on the
    // events exchange, where the gateway and the coordinator listen) dead-letter nowhere.
    for service in Service::ALL {
        let dead = vhost
            .take_all(&format!("{service}.dead-letter"))
            .await
            .unwrap();
        assert!(
            dead.is_empty(),
            "{service} dead-lettered {} message(s) of the round",
            dead.len()
        );
    }
    misrouted_commands_are_dead_lettered_with_the_reason(&vhost, amqp.as_ref().unwrap()).await;

    for app in &running {
        let health: serde_json::Value = client
            .get(format!("http://{}/healthz", app.ops_addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok");
        let metrics = client
            .get(format!("http://{}/metrics", app.ops_addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("detour_service_up 1"), "{metrics}");
        assert!(metrics.contains("detour_bus_deliveries_total"), "{metrics}");
    }
    for app in running {
        app.stop(Duration::from_secs(10)).await;
    }
    telemetry.shutdown().await;
}
