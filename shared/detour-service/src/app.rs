//! Wiring one service: the ops server, the publisher, the consumer and its dispatch, and the
//! service's own extras (routes, fallback, tasks), all stopped by one cancellation token.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use detour_bus::{Consumer, Publisher};
use tokio_util::sync::CancellationToken;

use crate::{HandlerContext, ServiceSettings, ServiceSpec, ops};

#[derive(Debug)]
pub struct App {
    spec: ServiceSpec,
    settings: ServiceSettings,
}

/// A started app: its ops address, and the handle to stop it.
#[derive(Debug)]
pub struct RunningApp {
    pub ops_addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    pub fn new(spec: ServiceSpec, settings: ServiceSettings) -> Self {
        Self { spec, settings }
    }

    /// Binds the ops port, then consumes in the background until stopped.
    pub async fn start(self) -> anyhow::Result<RunningApp> {
        let listener = tokio::net::TcpListener::bind(self.settings.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.settings.http.listen))?;
        let ops_addr = listener.local_addr()?;
        let service = self.spec.service;
        let instance = instance_name();
        let amqp = self.settings.amqp.clone();
        let publisher = Publisher::new(amqp.clone(), format!("{service} publisher {instance}"));
        let consumer = Consumer::new(
            amqp,
            self.spec.queue(),
            format!("{service} consumer {instance}"),
        );
        let context = HandlerContext {
            service,
            instance,
            publisher: publisher.clone(),
        };
        let mut dispatch = self.spec.dispatch.clone();
        let shutdown = CancellationToken::new();
        let mut ops = ops::router(consumer.readiness());
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(setup) = &self.spec.setup {
            let extras = setup
                .run(publisher.clone())
                .await
                .with_context(|| format!("{service} could not set up"))?;
            if let Some(routes) = extras.routes {
                ops = ops.merge(routes);
            }
            if let Some(fallback) = extras.fallback {
                dispatch = dispatch.otherwise(fallback);
            }
            for task in extras.tasks {
                tasks.spawn(task(shutdown.clone()));
            }
        }

        let ops_shutdown = shutdown.clone();
        let consume_shutdown = shutdown.clone();
        let task = tokio::spawn(async move {
            let serve =
                axum::serve(listener, ops).with_graceful_shutdown(ops_shutdown.cancelled_owned());
            let consume = consumer.run(
                |incoming| {
                    let (dispatch, context) = (dispatch.clone(), context.clone());
                    async move { dispatch.dispatch(incoming, context).await }
                },
                consume_shutdown,
            );
            let (served, ()) = tokio::join!(serve, consume);
            if let Err(error) = served {
                tracing::error!(%error, "the ops server failed");
            }
            while tasks.join_next().await.is_some() {}
            publisher.close().await;
        });
        tracing::info!(%service, %ops_addr, queue = %self.spec.queue().name, "started");
        Ok(RunningApp {
            ops_addr,
            shutdown,
            task,
        })
    }
}

impl RunningApp {
    /// Stops taking messages, lets in-flight ones finish within `drain`, and closes.
    pub async fn stop(self, drain: Duration) {
        self.shutdown.cancel();
        if tokio::time::timeout(drain, self.task).await.is_err() {
            tracing::warn!(
                ?drain,
                "in-flight work did not finish within the drain timeout"
            );
        }
    }
}

fn instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".to_owned());
    format!("{host}/{}", std::process::id())
}
