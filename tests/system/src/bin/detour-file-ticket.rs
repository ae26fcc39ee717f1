//! Files a Jira ticket through the gateway's signed webhook and follows its comments until the
//! final one, as the help desk would see them: the demo step of `docker compose up`, or a
//! rehearsal against any running Detour. Exits 0 when the final comment says the user is fixed.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Parser;
use detour_config::Secret;
use detour_system::{
    desk::Desk,
    remediation::{file_jira_ticket, follow_ticket},
};

#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The ticket gateway.
    #[arg(
        long,
        env = "DETOUR_GATEWAY_URL",
        default_value = "http://127.0.0.1:8086"
    )]
    gateway: String,
    /// Jira's REST API (tenant-sim's in a rehearsal).
    #[arg(long, env = "DETOUR_JIRA_URL", default_value = "http://127.0.0.1:8090")]
    jira: String,
    /// The file holding the webhook's signing secret.
    #[arg(long, env = "DETOUR_JIRA_WEBHOOK_SECRET_FILE")]
    secret_file: PathBuf,
    /// The issue to file.
    #[arg(long, default_value = "HELP-42")]
    key: String,
    /// How long to follow the ticket.
    #[arg(long, default_value_t = 300)]
    follow_seconds: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("detour-file-ticket: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let secret = Secret::from_file(&args.secret_file)
        .with_context(|| format!("cannot read {}", args.secret_file.display()))?;
    let desk = Desk {
        client: detour_system::http_client()?,
        gateway: args.gateway.trim_end_matches('/').to_owned(),
        tickets: args.jira.trim_end_matches('/').to_owned(),
        jira_secret: secret,
        webhook_token: Secret::new(String::new()),
    };
    wait_until_ready(&desk).await?;
    let delivery = format!("file-ticket-{}", uuid::Uuid::new_v4());
    let answer = file_jira_ticket(&desk, &args.key, &delivery).await?;
    println!("filed {}: {answer}", args.key);
    let comments = follow_ticket(
        &desk,
        &args.key,
        Duration::from_secs(args.follow_seconds),
        |comment| {
            for line in comment.lines().filter(|l| !l.starts_with("detour-ref: ")) {
                println!("  {line}");
            }
            println!();
        },
    )
    .await?;
    Ok(comments
        .last()
        .is_some_and(|last| last.contains("Outcome: fixed.")))
}

/// Waits up to two minutes for the gateway and Jira to answer (containers start in any order).
async fn wait_until_ready(desk: &Desk) -> anyhow::Result<()> {
    for _ in 0..240 {
        let gateway = desk
            .client
            .get(format!("{}/readyz", desk.gateway))
            .send()
            .await;
        if gateway.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the gateway at {} is not ready", desk.gateway)
}
