//! The README's main job, at this stage of Detour: start the six services as processes on the
//! real broker, ping each under one trace, and print the trace id they share, checked two
//! ways: each pong reports the trace it was handled in, and each service's exported spans
//! (received here over OTLP) carry it. Exits non-zero unless all six agree.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use detour_config::Sources;
use detour_contracts::Service;
use detour_system::{
    fleet::{Fleet, Launch},
    ping_round::ping_round,
    services,
};
use detour_telemetry::{LogFormat, Telemetry, TelemetrySettings};
use detour_testkit::OtlpReceiver;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("detour-demo: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    // The demo's own bus clients read the same DETOUR__AMQP__* settings the services do.
    let settings: detour_service::ServiceSettings = detour_service::load_config(
        services::default_port(Service::SagaCoordinator),
        Sources::from_process(String::new()),
    )?;
    let receiver = OtlpReceiver::start().await?;
    let telemetry_settings = TelemetrySettings {
        otlp_endpoint: receiver.endpoint(),
        log_filter: "warn".into(),
        log_format: LogFormat::Pretty,
    };
    let telemetry =
        Telemetry::install_with_sink("detour-demo", &telemetry_settings, std::io::stderr)?;

    let bin_dir = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .context("no binary directory")?;
    let log_dir = bin_dir.join("demo-logs");
    let mut members = Vec::new();
    for service in Service::ALL {
        let mut env = services::dev_stack_env(service)?;
        env.push((
            "DETOUR__TELEMETRY__OTLP_ENDPOINT".to_owned(),
            receiver.endpoint(),
        ));
        members.push(Launch {
            service,
            port: services::default_port(service),
            env,
        });
    }
    println!(
        "Starting the six services on {} (logs in {})",
        settings.amqp.display_uri(),
        log_dir.display()
    );
    let mut fleet = Fleet::start(&bin_dir, &members, &log_dir)?;
    fleet
        .wait_ready(Duration::from_secs(60), |service, port| {
            println!("  ready   {service:<17} ops on 127.0.0.1:{port}")
        })
        .await?;

    println!("Pinging every service under one trace");
    let round = ping_round(
        &settings.amqp,
        &Service::ALL,
        Duration::from_secs(30),
        |pong| {
            let trace = pong.trace_id.as_deref().unwrap_or("none");
            println!(
                "  pong    {:<17} {} trace {trace}",
                pong.responder.to_string(),
                pong.instance
            );
        },
    )
    .await?;

    // Services export their spans in batches and flush them when they stop.
    println!("Stopping the services (SIGTERM)");
    let codes = fleet.stop(Duration::from_secs(30)).await;
    telemetry.flush().await;
    let spans = receiver.spans();
    let mut ok = round.all_in_one_trace();
    for (service, code) in codes {
        let exported = spans
            .iter()
            .filter(|span| span.service == service.as_str() && span.trace_id == round.trace_id)
            .count();
        let clean = code == Some(0);
        ok &= clean && exported > 0;
        println!(
            "  {service:<17} exit {}  spans in the trace: {exported}",
            code.map_or("killed".to_owned(), |c| c.to_string())
        );
    }
    for service in &round.missing {
        println!("  no pong from {service}");
    }
    telemetry.shutdown().await;
    if ok {
        println!("All six services answered in one trace.");
        println!("trace_id={}", round.trace_id);
    } else {
        println!(
            "FAILED: the services did not all answer in one trace (trace {}).",
            round.trace_id
        );
    }
    Ok(ok)
}
