//! Fires the timers the store holds when they come due: each becomes its saga's input, and
//! leaves the store in the same transaction, so a restart neither loses nor repeats one. Each
//! tick also tends the takeover lease, so a lost answer to its command is asked again.

use std::time::Duration;

use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::engine::{Delivery, Engine, EngineError};
use crate::saga::{Event, Input};

const BATCH: u32 = 100;

pub async fn run(engine: Engine, tick: Duration, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        if let Err(error) = fire_due(&engine).await {
            tracing::warn!(%error, "cannot fire timers now");
        }
        if let Err(error) = engine.tend_lease().await {
            tracing::warn!(%error, "cannot tend the takeover lease now");
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(tick) => {}
        }
    }
}

async fn fire_due(engine: &Engine) -> Result<(), EngineError> {
    loop {
        let due = engine
            .store()
            .due_timers(OffsetDateTime::now_utc(), BATCH)
            .await?;
        let full = due.len() == BATCH as usize;
        for timer in due {
            let fired = Delivery {
                saga_id: timer.saga_id,
                message_id: format!("timer:{}", timer.timer_id),
                event: Event::Saga(Input::Timer(timer.timer)),
                causation: None,
                fired_timer: Some(timer.timer_id.clone()),
            };
            match engine.handle(fired).await {
                Ok(_) | Err(EngineError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        if !full {
            return Ok(());
        }
    }
}
