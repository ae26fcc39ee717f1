//! saga-coordinator: the heart of Detour, the durable remediation saga that sequences the
//! step services and compensates on failure.
//!
//! It consumes the `saga-coordinator` queue: its own commands (`saga-coordinator.#` on
//! `detour.commands`: `start-remediation`, `approve-remediation`) and the step services'
//! answers on `detour.events` (bound one by one), each matched by its causation id to the
//! command it answers. Operators drive it through the HTTP API on its ops
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

pub fn spec(settings: &CoordinatorSettings) -> anyhow::Result<ServiceSpec> {
    let url = settings.store.url.clone();
    let policy = settings.saga.policy()?;
    let budgets = settings.saga.budgets();
    let tick = settings.saga.timer_tick();
    let token = settings.api.token.clone();
    let setup = Setup::new(move |publisher| {
        let (url, policy, token) = (url.clone(), policy.clone(), token.clone());
        async move {
            let store = Store::open(&url).await?;
            let engine = Engine::new(store, policy, budgets);
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
    for key in shell::wire::answer_keys() {
        spec = spec.bind(EVENTS_EXCHANGE, key.as_str());
    }
    Ok(spec)
}
