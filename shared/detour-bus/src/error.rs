//! What can go wrong on the bus, in terms a caller can act on.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No queue is bound for this routing key: the message went nowhere.
    #[error("no queue is bound to {exchange}:{routing_key} ({reply})")]
    Unroutable {
        exchange: String,
        routing_key: String,
        reply: String,
    },
    /// The broker refused to take responsibility for the message.
    #[error("the broker nacked the message to {exchange}:{routing_key}")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    /// The broker refused the publish itself (e.g. no such exchange, access refused).
    #[error("the broker refused the publish to {exchange}:{routing_key}: {reason}")]
    Refused {
        exchange: String,
        routing_key: String,
        reason: String,
    },
    /// No confirmed publish within the timeout, through reconnects.
    #[error("no broker confirm for {exchange}:{routing_key} within {timeout:?}: {last_error}")]
    Unavailable {
        exchange: String,
        routing_key: String,
        timeout: Duration,
        last_error: String,
    },
    #[error(transparent)]
    Encode(#[from] detour_contracts::ContractError),
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot reach the broker at {uri}: {source}")]
    Connect {
        uri: String,
        #[source]
        source: lapin::Error,
    },
    #[error("cannot declare the topology: {0}")]
    Declare(#[source] lapin::Error),
    #[error("cannot start consuming from {queue}: {source}")]
    Consume {
        queue: String,
        #[source]
        source: lapin::Error,
    },
}
