//! Starts tenant-sim; the library says what it simulates.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use detour_config::{EXIT_BAD_CONFIG, Sources};
use tenant_sim::{app::Sim, scenario::Scenario, settings::SimSettings};

/// A simulated Microsoft 365 hybrid tenant: Graph, Exchange Online and Entra Connect (syncing
/// from a real AD over LDAPS), plus the Jira and ServiceNow endpoints Detour writes to, for
/// rehearsing and testing Detour.
///
/// Start it on top of the dev stack with a scenario, then drive it like the real services:
///
///   deploy/dev-stack.sh up
///   cargo run -p tenant-sim -- --scenario simulator/tenant-sim/scenarios/contoso.json
///
/// Tokens: POST /{tenant}/oauth2/v2.0/token (client credentials). Graph under /v1.0,
/// Exchange at /adminapi/beta/{tenant}/InvokeCommand, the Connect agent under /connect/v1,
/// the simulator's own controls under /_sim (scenario, world, switches, features, clock).
///
/// `tenant-sim adsync-shell` is the shell of a simulated Connect server's SSH account.
#[derive(Debug, Parser)]
#[command(version, verbatim_doc_comment)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// A scenario (JSON) to load at start; without one, POST it to /_sim/scenario later.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Settings file (TOML), layered over the defaults and under DETOUR__ variables.
    #[arg(long, env = "DETOUR_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address, overriding http.listen.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Answer one PowerShell command as a Connect server's shell would (set it as an SSH
    /// account's ForceCommand, or its login shell): the command comes from `-c` or
    /// SSH_ORIGINAL_COMMAND, the client's values on stdin, each cmdlet from the running
    /// simulator at --sim-url.
    AdsyncShell {
        #[arg(long)]
        sim_url: String,
        /// A file holding the scenario's agent key.
        #[arg(long)]
        agent_key_file: PathBuf,
        #[arg(short = 'c')]
        command: Option<String>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::AdsyncShell {
        sim_url,
        agent_key_file,
        command,
    }) = args.command
    {
        return adsync_shell(sim_url, &agent_key_file, command);
    }
    let mut sources = Sources::from_process(tenant_sim::settings::DEFAULTS);
    sources.file = args.config.clone();
    let mut settings: SimSettings = match detour_config::load(&sources) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("tenant-sim: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    if let Some(listen) = args.listen {
        settings.http.listen = listen;
    }
    let scenario = match args.scenario.as_deref().map(read_scenario).transpose() {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("tenant-sim: {error:#}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        eprintln!("tenant-sim: cannot start the async runtime");
        return ExitCode::FAILURE;
    };
    match runtime.block_on(serve(settings, scenario)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenant-sim: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn adsync_shell(
    sim_url: String,
    agent_key_file: &std::path::Path,
    command: Option<String>,
) -> ExitCode {
    use tenant_sim::adsync::shell;
    let result = match std::fs::read_to_string(agent_key_file) {
        Err(error) => Err(format!("cannot read {}: {error}", agent_key_file.display())),
        Ok(key) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Err(error) => Err(format!("cannot start the async runtime: {error}")),
            Ok(runtime) => runtime.block_on(shell::run(shell::ShellArgs {
                sim_url,
                agent_key: key.trim().to_owned(),
                command,
            })),
        },
    };
    ExitCode::from(shell::finish(result) as u8)
}

fn read_scenario(path: &std::path::Path) -> anyhow::Result<Scenario> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid scenario", path.display()))
}

async fn serve(settings: SimSettings, scenario: Option<Scenario>) -> anyhow::Result<()> {
    let telemetry = detour_telemetry::Telemetry::install("tenant-sim", &settings.telemetry)?;
    let sim = Sim::new(settings.ad.clone());
    if let Some(scenario) = &scenario {
        let users = sim.load(scenario).await?;
        sim.start_scheduler(scenario.connect.interval_seconds);
        tracing::info!(users, tenant = %scenario.tenant.initial_domain, "scenario loaded");
    }
    let listener = tokio::net::TcpListener::bind(settings.http.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "tenant-sim listening");
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stopped| *stopped).await;
        }
    };
    let tls = match settings.http.tls_addr() {
        Some(addr) => {
            use anyhow::Context;
            let read = |path: &str| {
                std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
            };
            let config = tenant_sim::http::server_config(
                &read(&settings.http.tls_cert_file)?,
                &read(&settings.http.tls_key_file)?,
            )?;
            let tls_listener = tokio::net::TcpListener::bind(addr?).await?;
            tracing::info!(addr = %tls_listener.local_addr()?, "tenant-sim listening over TLS");
            Some(tokio::spawn(tenant_sim::http::serve_tls(
                tls_listener,
                config,
                sim.clone(),
                until_stopped(),
            )))
        }
        None => None,
    };
    tokio::spawn(async move {
        stopped().await;
        let _ = stop.send(true);
    });
    tenant_sim::http::serve(listener, sim, until_stopped()).await?;
    if let Some(tls) = tls {
        tls.await??;
    }
    telemetry.shutdown().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (how containers and the demo stop it), so spans are flushed.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
