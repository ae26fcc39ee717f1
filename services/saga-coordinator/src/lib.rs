//! saga-coordinator: The heart of Detour: the durable remediation saga that sequences the step services and compensates on failure.
//!
//! It consumes the `saga-coordinator` queue (commands routed `saga-coordinator.<command>` on `detour.commands`) and
//! publishes its events on `detour.events` as `saga-coordinator.<event>.v<N>`. So far it holds the
//! saga's pure core (`saga`: the strategy as data and `decide`); the store, the shell around
//! `decide` and the operator API come next.

pub mod saga;
pub mod store;

use detour_contracts::Service;
use detour_service::ServiceSpec;

/// The operations port (`/healthz`, `/readyz`, `/metrics`) when none is configured.
pub const DEFAULT_PORT: u16 = 8085;

pub fn spec() -> ServiceSpec {
    ServiceSpec::new(Service::SagaCoordinator, DEFAULT_PORT)
}
