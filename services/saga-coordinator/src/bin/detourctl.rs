//! detourctl: the operator's command line over the coordinator's API: list and show sagas,
//! start one (or a dry run with `plan`), approve, abort, retry, resolve, and follow a saga's
//! timeline live until it settles.

use std::{process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use saga_coordinator::api::SagaView;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "detourctl",
    version,
    about = "Operate Detour's remediation sagas"
)]
struct Cli {
    /// The coordinator's API, e.g. http://127.0.0.1:8085.
    #[arg(long, env = "DETOUR_API", default_value = "http://127.0.0.1:8085")]
    api: String,
    /// The API's bearer token, when it has one.
    #[arg(long, env = "DETOUR_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List sagas, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        user: Option<String>,
        /// e.g. jira:HELP-42
        #[arg(long)]
        ticket: Option<String>,
    },
    /// Show one saga and its timeline.
    Show {
        saga_id: String,
        /// Keep printing the timeline until the saga settles.
        #[arg(long)]
        follow: bool,
    },
    /// Remediate a user, following progress live.
    Start {
        upn: String,
        /// The originating ticket, as system:key (jira, service-now or generic).
        #[arg(long)]
        ticket: Option<String>,
    },
    /// A dry run: diagnose the user and print the plan; nothing is changed.
    Plan { upn: String },
    /// Approve a held saga's plan, by the hash `show` prints.
    Approve { saga_id: String, plan_hash: String },
    /// Stop a saga; what it did is undone.
    Abort {
        saga_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Try a needs-attention saga's failed compensation again.
    Retry { saga_id: String },
    /// Close a needs-attention saga that was mended by hand.
    Resolve { saga_id: String, note: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("detourctl: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("detourctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}

struct Client {
    api: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1{path}", self.api.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, &url)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the coordinator at {url}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(
                "{status}: {}",
                body["error"].as_str().unwrap_or("no reason given")
            );
        }
        Ok(body)
    }

    async fn show(&self, saga_id: &str) -> anyhow::Result<SagaView> {
        let body = self
            .call(reqwest::Method::GET, &format!("/sagas/{saga_id}"), None)
            .await?;
        serde_json::from_value(body).context("the coordinator's answer does not parse")
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let client = Client {
        api: cli.api,
        token: cli.token,
        http: reqwest::Client::new(),
    };
    let post = reqwest::Method::POST;
    match cli.command {
        Command::List {
            status,
            user,
            ticket,
        } => {
            let filters = [("status", status), ("user", user), ("ticket", ticket)]
                .into_iter()
                .filter_map(|(key, value)| Some((key, value?)));
            // Only for its encoding of the query string.
            let encoded = reqwest::Url::parse_with_params("http://detour/", filters)?;
            let query = encoded.query().unwrap_or_default();
            let body = client
                .call(reqwest::Method::GET, &format!("/sagas?{query}"), None)
                .await?;
            println!(
                "{:<38} {:<18} {:<14} {:<20} USER",
                "SAGA", "STATUS", "STRATEGY", "TICKET"
            );
            for saga in body["sagas"].as_array().into_iter().flatten() {
                println!(
                    "{:<38} {:<18} {:<14} {:<20} {}",
                    text(&saga["saga_id"]),
                    text(&saga["status"]),
                    text(&saga["strategy"]),
                    text(&saga["ticket"]),
                    text(&saga["user"])
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { saga_id, follow } => follow_saga(&client, &saga_id, follow).await,
        Command::Start { upn, ticket } => {
            let ticket = ticket.map(|t| parse_ticket(&t)).transpose()?;
            let body = client
                .call(
                    post,
                    "/sagas",
                    Some(json!({ "user": upn, "ticket": ticket })),
                )
                .await?;
            let saga_id = text(&body["saga_id"]);
            if body["joined"] == true {
                println!("{upn} already has saga {saga_id}; following it");
            } else {
                println!("started saga {saga_id}");
            }
            follow_saga(&client, &saga_id, true).await
        }
        Command::Plan { upn } => {
            let body = client
                .call(
                    post,
                    "/sagas",
                    Some(json!({ "user": upn, "dry_run": true })),
                )
                .await?;
            let saga_id = text(&body["saga_id"]);
            let code = follow_saga(&client, &saga_id, true).await?;
            let view = client.show(&saga_id).await?;
            println!("{}", serde_json::to_string_pretty(&view.saga.phase)?);
            Ok(code)
        }
        Command::Approve { saga_id, plan_hash } => {
            operate(
                &client,
                &saga_id,
                "approve",
                json!({ "plan_hash": plan_hash }),
            )
            .await
        }
        Command::Abort { saga_id, reason } => {
            operate(&client, &saga_id, "abort", json!({ "reason": reason })).await
        }
        Command::Retry { saga_id } => operate(&client, &saga_id, "retry", json!({})).await,
        Command::Resolve { saga_id, note } => {
            operate(&client, &saga_id, "resolve", json!({ "note": note })).await
        }
    }
}

async fn operate(
    client: &Client,
    saga_id: &str,
    action: &str,
    body: Value,
) -> anyhow::Result<ExitCode> {
    let reply = client
        .call(
            reqwest::Method::POST,
            &format!("/sagas/{saga_id}/{action}"),
            Some(body),
        )
        .await?;
    println!("saga {saga_id}: {}", text(&reply["status"]));
    Ok(ExitCode::SUCCESS)
}

/// Prints the timeline (as it grows, with `follow`) and exits 0 when the saga ended well.
async fn follow_saga(client: &Client, saga_id: &str, follow: bool) -> anyhow::Result<ExitCode> {
    let mut printed = 0;
    loop {
        let view = client.show(saga_id).await?;
        for entry in view.timeline.iter().skip(printed) {
            println!("{}  {:<9} {}", entry.at.time(), entry.kind, entry.detail);
        }
        printed = view.timeline.len();
        let held = view.status == "awaiting-approval";
        if !follow || view.saga.phase.is_settled() || held {
            println!("status: {}", view.status);
            if let Some(hash) = view.plan_hash {
                println!("approve with: detourctl approve {saga_id} {hash}");
            }
            let good = matches!(
                view.status.as_str(),
                "completed" | "nothing-to-do" | "planned" | "awaiting-approval"
            ) || (!follow && !view.saga.phase.is_settled());
            return Ok(if good {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn parse_ticket(text: &str) -> anyhow::Result<Value> {
    let Some((system, key)) = text.split_once(':') else {
        bail!("a ticket is system:key, e.g. jira:HELP-42");
    };
    let system = match system {
        "jira" | "service-now" | "generic" => system,
        "servicenow" => "service-now",
        other => bail!("unknown ticket system {other:?} (jira, service-now or generic)"),
    };
    Ok(json!({ "system": system, "key": key }))
}

fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| "-".to_owned(), str::to_owned)
}
