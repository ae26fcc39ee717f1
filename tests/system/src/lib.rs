//! Detour as a whole: the six services together on a real broker. The demo binary
//! (`detour-demo`, the README's main command) and the system tests build on this library.
//!
//! # Layout
//! `services` (each service's spec and default port, in one table), `bulk` (the bulk
//! benchmark's crowd, services, watch and checks), `chaos` (remediations under kills, cuts
//! and duplicates, and the invariants after), `desk` (tickets filed
//! through the gateway's webhooks and read back from the ticket systems), `fleet` (service processes:
//! start, wait until ready, stop with SIGTERM, kill and restart), `ping_round` (ping every service under one trace
//! and collect the pongs), `remediation` (file a ticket, follow it, check the user is fixed and the
//! trace).

pub mod bulk;
pub mod chaos;
pub mod desk;
pub mod fleet;
pub mod ping_round;
pub mod remediation;
pub mod services;

use std::time::Duration;

/// The HTTP client every tool and test here uses: a service that accepts a request and never
/// answers is an error after `REQUEST_TIMEOUT`, so a run reports what hung instead of hanging.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .build()?)
}

/// Longer than any one request to a service takes, even on a loaded machine.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
