//! The outbox relay: publishes stored commands in batches, each confirmed by the broker before
//! it is marked, each a child of its remediation's trace. A command the broker cannot route
//! is given back to its saga as undeliverable (the saga compensates) instead of retried
//! forever; a broker outage just pauses the relay.

use std::{collections::HashMap, sync::Arc, time::Duration};

use detour_bus::{Outgoing, PublishError, Publisher};
use futures_util::future::join_all;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    engine::{Delivery, Engine},
    timeline::purpose_label,
};
use crate::{saga::Event, store::Pending};

/// How often the outbox is looked at without a wake-up (rows from other replicas, restarts).
const IDLE_POLL: Duration = Duration::from_millis(500);
const BATCH: u32 = 100;
/// How long a wake-up waits for more rows: a little latency for far fewer outbox reads
/// under load.
const GATHER: Duration = Duration::from_millis(3);

pub async fn run(
    engine: Engine,
    publisher: Publisher,
    wakeup: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        let published = match engine.store().unpublished(BATCH).await {
            Ok(pending) if pending.is_empty() => {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = wakeup.notified() => {
                        // Let the commits racing this one land, and publish them together.
                        tokio::time::sleep(GATHER).await;
                    }
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            Ok(pending) => publish_all(&engine, &publisher, pending).await,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox");
                false
            }
        };
        if published {
            pause = Duration::from_millis(100);
        } else {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}

/// Publishes a batch at once (the broker confirms them together, in order on one channel),
/// then marks what was confirmed in one write. A row whose confirm is missing is left for the
/// next round; rows after it may then go out twice, which the step services' idempotence and
/// the saga's stale-answer rule absorb.
async fn publish_all(engine: &Engine, publisher: &Publisher, pending: Vec<Pending>) -> bool {
    let results = join_all(pending.iter().map(|row| publish(publisher, row))).await;
    let mut confirmed = Vec::new();
    let mut undeliverable = Vec::new();
    let mut all_went = true;
    for (row, result) in pending.iter().zip(results) {
        match result {
            Ok(()) => confirmed.push(row.seq),
            Err(
                error @ (PublishError::Unroutable { .. }
                | PublishError::Refused { .. }
                | PublishError::Encode(_)),
            ) => {
                if row.message.purpose.is_some() {
                    tracing::error!(saga_id = %row.saga_id, %error, "a command cannot be delivered");
                } else {
                    tracing::warn!(saga_id = %row.saga_id, %error, "no one takes the ticket's progress");
                }
                confirmed.push(row.seq);
                undeliverable.push((row, error.to_string()));
            }
            Err(error) => {
                tracing::warn!(%error, "cannot publish now; the outbox keeps it");
                all_went = false;
            }
        }
    }
    if let Err(error) = engine.store().mark_published(&confirmed).await {
        tracing::warn!(%error, "published, but cannot mark it; it may go out twice");
        return false;
    }
    metrics::counter!("detour_saga_commands_published_total").increment(confirmed.len() as u64);
    for (row, reason) in undeliverable {
        let Some(purpose) = row.message.purpose else {
            continue;
        };
        let undeliverable = Delivery {
            saga_id: row.saga_id,
            message_id: format!("undeliverable:{}", row.message.message_id),
            event: Event::Undeliverable { purpose, reason },
            causation: None,
            fired_timer: None,
        };
        if let Err(error) = engine.handle(undeliverable).await {
            tracing::error!(%error, "cannot tell the saga its command was lost");
        }
    }
    all_went
}

/// One command, under a span that continues its remediation's trace.
async fn publish(publisher: &Publisher, row: &Pending) -> Result<(), PublishError> {
    let message = &row.message;
    let step = message
        .purpose
        .map_or_else(|| message.message_type.clone(), |p| purpose_label(&p));
    let span = tracing::info_span!(
        "saga command",
        "detour.saga_id" = %row.saga_id,
        "detour.step" = %step,
        "messaging.message.id" = %message.message_id,
    );
    let parent: HashMap<String, String> = row.trace_context.clone().into_iter().collect();
    detour_telemetry::set_remote_parent(&span, &parent);
    publisher
        .publish_outgoing(Outgoing {
            exchange: &message.exchange,
            routing_key: &message.routing_key,
            body: message.body.as_bytes(),
            message_id: &message.message_id,
            message_type: &message.message_type,
            headers: Vec::new(),
        })
        .instrument(span)
        .await
}
