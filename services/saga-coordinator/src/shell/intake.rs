//! What the coordinator's queue delivers: answers from the step services, matched to the
//! command they answer by their causation id. Anything else on the events exchange is some
//! other conversation and is acked untouched.

use detour_bus::{Incoming, Outcome};

use super::{
    engine::{Delivery, Engine, EngineError},
    wire,
};
use crate::saga::Event;

pub async fn handle(engine: &Engine, incoming: Incoming) -> Outcome {
    let (header, answer) = match wire::decode(&incoming) {
        Ok(Some(decoded)) => decoded,
        Ok(None) => return Outcome::Handled,
        Err(error) => return Outcome::Reject(format!("cannot read the answer: {error}")),
    };
    let Some(causation) = header.causation_id else {
        return Outcome::Handled;
    };
    let (saga_id, purpose) = match engine.purpose_of(&causation.to_string()).await {
        Ok(Some((saga_id, Some(purpose)))) => (saga_id, purpose),
        // Not a command this coordinator sent.
        Ok(_) => return Outcome::Handled,
        Err(error) => return Outcome::Retry(format!("the store is unavailable: {error}")),
    };
    let delivery = Delivery {
        saga_id,
        message_id: header.message_id.to_string(),
        event: Event::Answered { purpose, answer },
        causation: Some(header.message_id),
        fired_timer: None,
    };
    match engine.handle(delivery).await {
        Ok(_) | Err(EngineError::NotFound(_)) => Outcome::Handled,
        Err(error @ (EngineError::Invalid(_) | EngineError::Contract(_))) => {
            Outcome::Reject(error.to_string())
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
