//! One ping to each service under a single root span, and the pongs that come back: each pong
//! names the trace id its handler ran in, so the round shows whether one trace spans them all.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context;
use detour_bus::{AmqpSettings, Binding, Publisher, Subscription};
use detour_contracts::{EVENTS_EXCHANGE, Envelope, Ping, Pong, Service};
use tracing::Instrument;

#[derive(Debug)]
pub struct PingRound {
    /// The trace id of the round's root span.
    pub trace_id: String,
    pub pongs: BTreeMap<Service, Pong>,
    pub missing: Vec<Service>,
}

impl PingRound {
    /// Every service answered, in the round's trace.
    pub fn all_in_one_trace(&self) -> bool {
        self.missing.is_empty()
            && self
                .pongs
                .values()
                .all(|pong| pong.trace_id.as_deref() == Some(self.trace_id.as_str()))
    }
}

/// Pings `services` and waits up to `timeout` for their pongs, calling `on_pong` as each arrives.
pub async fn ping_round(
    settings: &AmqpSettings,
    services: &[Service],
    timeout: Duration,
    mut on_pong: impl FnMut(&Pong),
) -> anyhow::Result<PingRound> {
    let listen = Binding {
        exchange: EVENTS_EXCHANGE.to_owned(),
        pattern: "*.pong.v1".to_owned(),
    };
    let mut pongs_in = Subscription::open(settings, "ping-round listener", &[listen])
        .await
        .context("cannot listen for pongs")?;
    let publisher = Publisher::new(settings.clone(), "ping-round publisher");

    let root = tracing::info_span!("ping-round", "otel.name" = "ping round");
    let trace_id = detour_telemetry::trace_id_of(&root).context("tracing is not installed")?;
    let mut sent = BTreeMap::new();
    for service in services {
        let ping = Envelope::new(Ping { target: *service });
        publisher
            .publish(&ping)
            .instrument(root.clone())
            .await
            .with_context(|| format!("cannot ping {service}"))?;
        sent.insert(ping.message_id, *service);
    }

    let deadline = tokio::time::Instant::now() + timeout;
    let mut pongs = BTreeMap::new();
    while pongs.len() < services.len() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(incoming) = pongs_in.next(left).await else {
            break;
        };
        // Only answers to this round's pings count: another round may share the broker.
        let Ok(pong) = incoming.decode::<Pong>() else {
            continue;
        };
        if pong.causation_id.and_then(|id| sent.get(&id)) == Some(&pong.payload.responder) {
            on_pong(&pong.payload);
            pongs.insert(pong.payload.responder, pong.payload);
        }
    }
    pongs_in.close().await;
    publisher.close().await;
    let missing = services
        .iter()
        .filter(|s| !pongs.contains_key(s))
        .copied()
        .collect();
    Ok(PingRound {
        trace_id,
        pongs,
        missing,
    })
}
