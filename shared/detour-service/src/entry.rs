//! A service process from start to exit: arguments, settings (exit 64 when bad, before any
//! connection), telemetry, the app, and a drain on SIGTERM or Ctrl-C.

use std::{path::PathBuf, process::ExitCode};

use detour_config::{EXIT_BAD_CONFIG, Sources};
use detour_contracts::Service;
use detour_telemetry::Telemetry;

use crate::{App, ServiceConfig, ServiceSettings, ServiceSpec, settings::load_config};

/// Runs a service whose settings are the shared ones only.
pub fn main(spec: ServiceSpec) -> ExitCode {
    let (service, port) = (spec.service, spec.default_port);
    main_with::<ServiceSettings>(service, port, |_| Ok(spec))
}

/// Runs a service with settings of its own: `build` makes its spec (handlers and their
/// adapters) from them, before any connection is opened.
pub fn main_with<S: ServiceConfig>(
    service: Service,
    default_port: u16,
    build: impl FnOnce(&S) -> anyhow::Result<ServiceSpec>,
) -> ExitCode {
    let mut sources = Sources::from_process(String::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{}", usage(service, default_port));
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("{service} {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "-c" | "--config" => match args.next() {
                Some(path) => sources.file = Some(PathBuf::from(path)),
                None => return usage_error(service, default_port, "--config needs a file path"),
            },
            other => {
                return usage_error(
                    service,
                    default_port,
                    &format!("unknown argument {other:?}"),
                );
            }
        }
    }
    let settings: S = match load_config(default_port, sources) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("{service}: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{service}: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Building may start background tasks (sync-trigger's cycle runner).
    let entered = runtime.enter();
    let spec = match build(&settings) {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("{service}: {error:#}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    drop(entered);
    let settings = settings.base();
    runtime.block_on(async move {
        let telemetry = match Telemetry::install(service.as_str(), &settings.telemetry) {
            Ok(telemetry) => telemetry,
            Err(error) => {
                eprintln!("{service}: {error}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(amqp = %settings.amqp.display_uri(), otlp = %settings.telemetry.otlp_endpoint, "starting");
        let drain = settings.shutdown.drain_timeout();
        let code = match App::new(spec, settings).start().await {
            Ok(app) => {
                wait_for_signal().await;
                tracing::info!(?drain, "shutting down");
                app.stop(drain).await;
                ExitCode::SUCCESS
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "cannot start");
                ExitCode::FAILURE
            }
        };
        telemetry.shutdown().await;
        code
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn usage_error(service: Service, default_port: u16, problem: &str) -> ExitCode {
    eprint!("{service}: {problem}\n\n{}", usage(service, default_port));
    ExitCode::from(EXIT_BAD_CONFIG as u8)
}

fn usage(service: Service, port: u16) -> String {
    format!(
        "Usage: {service} [--config FILE]\n\n\
         Runs the Detour {service} service until SIGTERM or Ctrl-C.\n\n\
         Settings: built-in defaults, then FILE (or $DETOUR_CONFIG, TOML), then environment\n\
         variables DETOUR__SECTION__KEY, e.g. DETOUR__AMQP__HOST=rabbitmq,\n\
         DETOUR__TELEMETRY__OTLP_ENDPOINT=http://jaeger:4318, DETOUR__HTTP__LISTEN=0.0.0.0:{port}.\n\
         Invalid settings exit with code 64 before any connection is opened.\n",
    )
}
