//! One SSH connection to the Connect server, kept open and shared: each command runs on its
//! own channel, with its values written to standard input. The server's host key must be the
//! one pinned in the settings (never trust on first use), and the account signs in with its
//! key. A connection found closed when a command is about to be sent is opened again; a
//! command whose connection drops after it was sent is reported as dropped, never re-sent
//! here, since it may have run.

use std::{sync::Arc, time::Duration};

use russh::{
    ChannelMsg,
    client::{self, Handle},
    keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate},
};
use tokio::sync::Mutex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("cannot reach the Connect server: {0}")]
    Unreachable(String),
    #[error(
        "the Connect server's host key is {presented}, not the pinned {pinned}: refusing to connect"
    )]
    HostKeyMismatch { pinned: String, presented: String },
    #[error("the Connect server refused the key for {0}")]
    AuthenticationFailed(String),
    #[error("the connection dropped while the command ran: {0}")]
    Dropped(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key: Arc<PrivateKey>,
    pub host_key: PublicKey,
    pub timeout: Duration,
}

/// What a command printed, and how it ended (`None`: killed by a signal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub exit_status: Option<u32>,
}

pub struct Session {
    target: Target,
    connection: Mutex<Option<Arc<Handle<Pinned>>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.target.host)
            .field("port", &self.target.port)
            .field("user", &self.target.user)
            .finish()
    }
}

/// Accepts the server only with the pinned key, and remembers what it showed otherwise.
#[derive(Debug)]
struct Pinned {
    pinned: PublicKey,
    presented: Arc<std::sync::Mutex<Option<String>>>,
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(certificate) => {
                *self.presented.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("a certificate ({})", certificate.key_id()));
                return Ok(false);
            }
        };
        if presented.key_data() == self.pinned.key_data() {
            return Ok(true);
        }
        *self.presented.lock().unwrap_or_else(|p| p.into_inner()) = Some(fingerprint(presented));
        Ok(false)
    }
}

impl Session {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            connection: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<Arc<Handle<Pinned>>, TransportError> {
        let target = &self.target;
        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(15)),
            keepalive_max: 3,
            ..Default::default()
        });
        let presented = Arc::new(std::sync::Mutex::new(None));
        let handler = Pinned {
            pinned: target.host_key.clone(),
            presented: presented.clone(),
        };
        let address = (target.host.as_str(), target.port);
        let connecting = client::connect(config, address, handler);
        let mut handle = match tokio::time::timeout(target.timeout, connecting).await {
            Err(_) => return Err(TransportError::TimedOut(target.timeout)),
            Ok(Ok(handle)) => handle,
            Ok(Err(error)) => {
                let shown = presented.lock().unwrap_or_else(|p| p.into_inner()).take();
                return Err(match shown {
                    Some(presented) => TransportError::HostKeyMismatch {
                        pinned: fingerprint(&target.host_key),
                        presented,
                    },
                    None => TransportError::Unreachable(error.to_string()),
                });
            }
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?
            .flatten();
        let signed_in = handle
            .authenticate_publickey(
                target.user.clone(),
                PrivateKeyWithHashAlg::new(target.key.clone(), hash),
            )
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        if !signed_in.success() {
            return Err(TransportError::AuthenticationFailed(target.user.clone()));
        }
        Ok(Arc::new(handle))
    }

    /// A channel on the open connection, opening the connection (again) when there is none
    /// or it has closed. Nothing has been sent when this fails.
    async fn channel(&self) -> Result<russh::Channel<client::Msg>, TransportError> {
        let mut connection = self.connection.lock().await;
        if let Some(handle) = connection.as_ref().filter(|h| !h.is_closed())
            && let Ok(channel) = handle.channel_open_session().await
        {
            return Ok(channel);
        }
        *connection = None;
        let handle = self.connect().await?;
        let channel = handle
            .channel_open_session()
            .await
            .map_err(|e| TransportError::Unreachable(e.to_string()))?;
        *connection = Some(handle);
        Ok(channel)
    }

    /// Runs `command` with `stdin` as its standard input, within the target's timeout.
    pub async fn run(&self, command: &str, stdin: &[u8]) -> Result<Output, TransportError> {
        let timeout = self.target.timeout;
        let channel = match tokio::time::timeout(timeout, self.channel()).await {
            Err(_) => return Err(TransportError::TimedOut(timeout)),
            Ok(channel) => channel?,
        };
        match tokio::time::timeout(timeout, exchange(channel, command, stdin)).await {
            Err(_) => Err(TransportError::TimedOut(timeout)),
            Ok(output) => output,
        }
    }
}

async fn exchange(
    mut channel: russh::Channel<client::Msg>,
    command: &str,
    stdin: &[u8],
) -> Result<Output, TransportError> {
    let dropped = |e: russh::Error| TransportError::Dropped(e.to_string());
    channel.exec(true, command).await.map_err(dropped)?;
    if !stdin.is_empty() {
        channel.data(stdin).await.map_err(dropped)?;
    }
    channel.eof().await.map_err(dropped)?;
    let (mut stdout, mut stderr, mut exit_status) = (Vec::new(), Vec::new(), None);
    let mut killed = false;
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus {
                exit_status: status,
            } => exit_status = Some(status),
            ChannelMsg::ExitSignal { .. } => killed = true,
            _ => {}
        }
    }
    if exit_status.is_none() && !killed {
        return Err(TransportError::Dropped(
            "the channel closed without an exit status".into(),
        ));
    }
    Ok(Output {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        exit_status,
    })
}
