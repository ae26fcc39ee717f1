//! Opening connections and pacing reconnects.

use std::time::Duration;

use detour_retry::Backoff;
use lapin::{Connection, ConnectionProperties};

use crate::{AmqpSettings, BusError};

/// Opens one connection, named so it shows up recognisably in the broker's connection list.
pub(crate) async fn open(settings: &AmqpSettings, name: &str) -> Result<Connection, BusError> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(&settings.uri(), properties)
        .await
        .map_err(|source| BusError::Connect {
            uri: settings.display_uri(),
            source,
        })
}

/// The reconnect pacing `settings` ask for: doubling, jittered steps (`detour-retry`), so
/// replicas that lost the broker together do not all return at the same instant.
pub(crate) fn reconnect_backoff(settings: &AmqpSettings) -> Backoff {
    Backoff::new(
        Duration::from_millis(settings.reconnect_min_ms),
        Duration::from_millis(settings.reconnect_max_ms),
    )
}
