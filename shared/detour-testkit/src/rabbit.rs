//! One RabbitMQ vhost per test, made and removed through the management API, plus the
//! management calls tests use to break things (closing every connection of the vhost).

use anyhow::{Context, ensure};
use serde::Deserialize;

use crate::Stack;

#[derive(Debug)]
pub struct TestVhost {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    api: String,
    api_user: String,
    api_password: String,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct ConnectionInfo {
    name: String,
    vhost: String,
}

impl TestVhost {
    /// Creates `detour-test-<prefix>-<uuid>` with full permissions for the stack's user.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let stack = Stack::load()?;
        let url = stack.get("DETOUR_AMQP_URL")?;
        let (username, password, host, port) = parse_amqp_url(url)?;
        let vhost = Self {
            name: format!("detour-test-{prefix}-{}", uuid::Uuid::new_v4().simple()),
            host,
            port,
            username,
            password,
            api: stack.get("DETOUR_RABBITMQ_API")?.to_owned(),
            api_user: stack.get("DETOUR_RABBITMQ_API_USER")?.to_owned(),
            api_password: stack.get("DETOUR_RABBITMQ_API_PASSWORD")?.to_owned(),
            client: reqwest::Client::new(),
        };
        vhost
            .call(
                reqwest::Method::PUT,
                &format!("/api/vhosts/{}", vhost.encoded()),
                None,
            )
            .await?;
        let permissions = serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"});
        let path = format!("/api/permissions/{}/{}", vhost.encoded(), vhost.username);
        vhost
            .call(reqwest::Method::PUT, &path, Some(permissions))
            .await?;
        Ok(vhost)
    }

    /// Forcibly closes every client connection to this vhost, as a broker restart or a
    /// network cut would; returns how many were closed.
    pub async fn close_all_connections(&self) -> anyhow::Result<usize> {
        let listing = self
            .client
            .get(format!(
                "{}/api/vhosts/{}/connections",
                self.api,
                self.encoded()
            ))
            .basic_auth(&self.api_user, Some(&self.api_password))
            .send()
            .await?
            .error_for_status()?
            .json::<Vec<ConnectionInfo>>()
            .await?;
        let mut closed = 0;
        for connection in listing.iter().filter(|c| c.vhost == self.name) {
            let path = format!("/api/connections/{}", encode(&connection.name));
            self.call(reqwest::Method::DELETE, &path, None).await?;
            closed += 1;
        }
        Ok(closed)
    }

    pub fn amqp_url(&self) -> String {
        format!(
            "amqp://{}:{}@{}:{}/{}",
            self.username,
            self.password,
            self.host,
            self.port,
            self.encoded()
        )
    }

    fn encoded(&self) -> String {
        encode(&self.name)
    }

    /// Takes (and acks) every message now in `queue`: its headers and body.
    pub async fn take_all(
        &self,
        queue: &str,
    ) -> anyhow::Result<Vec<(lapin::types::FieldTable, Vec<u8>)>> {
        use lapin::options::{BasicAckOptions, BasicGetOptions};
        let connection =
            lapin::Connection::connect(&self.amqp_url(), lapin::ConnectionProperties::default())
                .await?;
        let channel = connection.create_channel().await?;
        let mut taken = Vec::new();
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await?
        {
            let delivery = message.delivery;
            delivery.ack(BasicAckOptions::default()).await?;
            taken.push((
                delivery.properties.headers().clone().unwrap_or_default(),
                delivery.data,
            ));
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(taken)
    }

    /// The queue's declared arguments (`x-queue-type` and the like), as the broker holds them.
    pub async fn queue_arguments(&self, queue: &str) -> anyhow::Result<serde_json::Value> {
        let path = format!("/api/queues/{}/{queue}", self.encoded());
        let response = self
            .client
            .get(format!("{}{path}", self.api))
            .basic_auth(&self.api_user, Some(&self.api_password))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        ensure!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        let queue: serde_json::Value = response.json().await?;
        Ok(queue["arguments"].clone())
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<()> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.api))
            .basic_auth(&self.api_user, Some(&self.api_password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        ensure!(
            status.is_success() || status == reqwest::StatusCode::NOT_FOUND,
            "{method} {path}: {status}"
        );
        Ok(())
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        // Drop cannot await; a plain thread with a blocking client works inside or outside a
        // runtime.
        let url = format!("{}/api/vhosts/{}", self.api, self.encoded());
        let (user, password) = (self.api_user.clone(), self.api_password.clone());
        let _ = std::thread::spawn(move || {
            reqwest::blocking::Client::new()
                .delete(url)
                .basic_auth(user, Some(password))
                .send()
        })
        .join();
    }
}

fn parse_amqp_url(url: &str) -> anyhow::Result<(String, String, String, u16)> {
    let rest = url
        .strip_prefix("amqp://")
        .context("DETOUR_AMQP_URL must start with amqp://")?;
    let (credentials, address) = rest
        .split_once('@')
        .context("DETOUR_AMQP_URL needs user:password@")?;
    let (user, password) = credentials
        .split_once(':')
        .context("DETOUR_AMQP_URL needs user:password")?;
    let address = address.trim_end_matches('/');
    let (host, port) = address
        .rsplit_once(':')
        .context("DETOUR_AMQP_URL needs host:port")?;
    Ok((
        user.to_owned(),
        password.to_owned(),
        host.to_owned(),
        port.parse()?,
    ))
}

/// Percent-encodes a path segment for the management API.
fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
