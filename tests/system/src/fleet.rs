//! The services as real processes: started from their built binaries with the same
//! environment variables a container would get, watched until ready, stopped with SIGTERM,
//! or killed and started again (the chaos run).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use detour_contracts::Service;
use tokio::process::{Child, Command};

#[derive(Debug)]
pub struct Fleet {
    members: Vec<Member>,
    client: reqwest::Client,
    bin_dir: PathBuf,
}

/// How to start one service: which, on which ops port, with which extra environment.
#[derive(Debug, Clone)]
pub struct Launch {
    pub service: Service,
    pub port: u16,
    pub env: Vec<(String, String)>,
}

#[derive(Debug)]
struct Member {
    service: Service,
    port: u16,
    env: Vec<(String, String)>,
    child: Child,
    log: PathBuf,
}

impl Fleet {
    /// Starts `bin_dir/<service>` for each launch, logging to `log_dir/<service>.log`.
    pub fn start(bin_dir: &Path, launches: &[Launch], log_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        for Launch { service, port, .. } in launches {
            if std::net::TcpListener::bind(("127.0.0.1", *port)).is_err() {
                bail!("port {port} for {service} is taken: is another Detour still running?");
            }
        }
        let mut members = Vec::new();
        for Launch { service, port, env } in launches {
            let log = log_dir.join(format!("{service}.log"));
            let child = spawn(bin_dir, *service, *port, env, &log, false)?;
            members.push(Member {
                service: *service,
                port: *port,
                env: env.clone(),
                child,
                log,
            });
        }
        Ok(Self {
            members,
            client: crate::http_client()?,
            bin_dir: bin_dir.to_owned(),
        })
    }

    /// SIGKILLs `service` (no drain, no goodbye) and starts it again at once, its log
    /// appended to; returns once the new process is up (not yet ready).
    pub async fn kill_and_restart(&mut self, service: Service) -> anyhow::Result<()> {
        let bin_dir = self.bin_dir.clone();
        let member = self
            .members
            .iter_mut()
            .find(|m| m.service == service)
            .with_context(|| format!("{service} is not in the fleet"))?;
        member.child.start_kill()?;
        member.child.wait().await?;
        member.child = spawn(
            &bin_dir,
            service,
            member.port,
            &member.env,
            &member.log,
            true,
        )?;
        Ok(())
    }

    /// Waits until every service answers `/readyz` with 200, calling `on_ready` for each.
    pub async fn wait_ready(
        &mut self,
        timeout: Duration,
        mut on_ready: impl FnMut(Service, u16),
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut pending: Vec<usize> = (0..self.members.len()).collect();
        while !pending.is_empty() {
            let mut still = Vec::new();
            for index in pending {
                let member = &mut self.members[index];
                if let Some(status) = member.child.try_wait()? {
                    bail!(
                        "{} exited early ({status}); its log:\n{}",
                        member.service,
                        tail(&member.log, 15)
                    );
                }
                let url = format!("http://127.0.0.1:{}/readyz", member.port);
                match self
                    .client
                    .get(&url)
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await
                {
                    Ok(response) if response.status().is_success() => {
                        on_ready(member.service, member.port)
                    }
                    _ => still.push(index),
                }
            }
            pending = still;
            if !pending.is_empty() {
                if tokio::time::Instant::now() >= deadline {
                    let names: Vec<String> = pending
                        .iter()
                        .map(|i| self.members[*i].service.to_string())
                        .collect();
                    bail!("not ready after {timeout:?}: {}", names.join(", "));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// Each running service's process id, to watch its memory.
    pub fn pids(&self) -> Vec<(Service, u32)> {
        self.members
            .iter()
            .filter_map(|m| Some((m.service, m.child.id()?)))
            .collect()
    }

    /// Sends SIGTERM to all, waits up to `timeout` for each to exit, kills what is left.
    /// Returns each service's exit code (`None` if it had to be killed).
    pub async fn stop(mut self, timeout: Duration) -> Vec<(Service, Option<i32>)> {
        for member in &self.members {
            if let Some(pid) = member.child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        let mut codes = Vec::new();
        for member in &mut self.members {
            let code = match tokio::time::timeout(timeout, member.child.wait()).await {
                Ok(Ok(status)) => status.code(),
                _ => {
                    let _ = member.child.start_kill();
                    None
                }
            };
            codes.push((member.service, code));
        }
        codes
    }
}

/// Builds the binaries of `services` as `cargo build` does (debug) and returns the directory
/// they are in; for tests that run services as processes beside the test binary at
/// `test_exe` (`target/debug/deps/...`).
pub fn build_debug_binaries(services: &[Service], test_exe: &Path) -> anyhow::Result<PathBuf> {
    let mut command = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    command.args(["build", "--quiet", "--bins"]);
    for service in services {
        command.args(["-p", service.as_str()]);
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cannot build {services:?}");
    }
    test_exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("the test binary is not under target/<profile>/deps")
}

fn spawn(
    bin_dir: &Path,
    service: Service,
    port: u16,
    env: &[(String, String)],
    log: &Path,
    append: bool,
) -> anyhow::Result<Child> {
    let binary = bin_dir.join(service.as_str());
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(append)
        .write(true)
        .truncate(!append)
        .open(log)?;
    Command::new(&binary)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("DETOUR__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} (was it built?)", binary.display()))
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
