//! An OTLP/HTTP trace receiver that keeps what it is sent and lists it as JSON
//! (`GET /spans`): where no Jaeger image can be had, the containerised rehearsal's services
//! export to it, and `detour-demo --compose` reads the remediation's trace back from it.

use std::{net::SocketAddr, process::ExitCode};

use clap::Parser;
use detour_testkit::OtlpReceiver;

#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Where to listen (OTLP/HTTP's usual port).
    #[arg(long, env = "DETOUR_OTLP_SINK_LISTEN", default_value = "0.0.0.0:4318")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let receiver = match OtlpReceiver::start_on(args.listen).await {
        Ok(receiver) => receiver,
        Err(error) => {
            eprintln!(
                "detour-otlp-sink: cannot listen on {}: {error:#}",
                args.listen
            );
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "detour-otlp-sink: receiving spans on {}",
        receiver.endpoint()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(error) => {
            eprintln!("detour-otlp-sink: {error}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    ExitCode::SUCCESS
}
