//! saga-coordinator: the heart of Detour, the durable remediation saga that sequences the
//! step services and compensates on failure.
//!
//! It consumes the `saga-coordinator` queue: its own commands (`saga-coordinator.#` on
//! `detour.commands`: `start-remediation`) and the step services' events on `detour.events`, each matched by its
//! causation id to the command it answers. Operators drive it through the HTTP API on its ops
//! port (`detourctl` is a client of it).
//!
//! # Layout
//! `saga` (the pure core: diagnosis, admission, the strategy as data, `decide`, a
//! remediation's life around it), `store` (SQLite or PostgreSQL: records, inbox, outbox,
//! timers, audit log), `shell` (engine, wire format, intake, relay, timers), `api` (the
//! operator API), `settings`.

pub mod api;
pub mod saga;
pub mod settings;
pub mod shell;
pub mod store;

use detour_contracts::{EVENTS_EXCHANGE, Service};
use detour_service::{Extras, ServiceSpec, Setup};
pub use settings::CoordinatorSettings;

use crate::{shell::Engine, store::Store};

/// The operations port (`/healthz`, `/readyz`, `/metrics`, and the operator API).
pub const DEFAULT_PORT: u16 = 8085;

/// The step services whose events answer the saga's commands.
const STEP_SERVICES: [Service; 4] = [
    Service::AdOps,
    Service::SyncTrigger,
    Service::CloudDirectory,
    Service::MailboxOps,
];

pub fn spec(settings: &CoordinatorSettings) -> anyhow::Result<ServiceSpec> {
    let url = settings.store.url.clone();
    let policy = settings.saga.policy();
    let max_descoped = settings.saga.max_descoped;
    let tick = settings.saga.timer_tick();
    let token = settings.api.token()?;
    let setup = Setup::new(move |publisher| {
        let (url, policy, token) = (url.clone(), policy.clone(), token.clone());
        async move {
            let store = Store::open(&url).await?;
            let engine = Engine::new(store, policy, max_descoped);
            // Whatever waited for a slot before a restart gets its chance now.
            engine.admit_waiting().await?;
            let wakeup = engine.relay_wakeup();
            let (relay, timers, intake) = (engine.clone(), engine.clone(), engine.clone());
            let answers = publisher.clone();
            Ok(Extras::default()
                .routes(api::router(engine, token))
                .fallback(move |incoming| {
                    let (engine, publisher) = (intake.clone(), answers.clone());
                    async move { shell::intake::handle(&engine, &publisher, incoming).await }
                })
                .task(move |stop| shell::relay::run(relay, publisher, wakeup, stop))
                .task(move |stop| shell::timers::run(timers, tick, stop)))
        }
    });
    let mut spec = ServiceSpec::new(Service::SagaCoordinator, DEFAULT_PORT).setup(setup);
    for service in STEP_SERVICES {
        spec = spec.bind(EVENTS_EXCHANGE, &format!("{service}.#"));
    }
    Ok(spec)
}
