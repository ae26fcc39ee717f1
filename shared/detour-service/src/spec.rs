//! What a service declares about itself.

use detour_bus::{Binding, QueueSpec};
use detour_contracts::{COMMANDS_EXCHANGE, EVENTS_EXCHANGE, Service};

use crate::{Dispatch, Setup};

#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub service: Service,
    /// The operations port when none is configured; distinct per service so the native
    /// stack can run all six on one host.
    pub default_port: u16,
    /// What the service's queue receives beyond its own commands (`<service>.#`) and the
    /// events its dispatch has handlers for.
    pub extra_bindings: Vec<Binding>,
    pub dispatch: Dispatch,
    /// One replica consumes at a time; the others stand by.
    pub single_active_consumer: bool,
    /// Routes, a fallback handler and tasks set up when the app starts.
    pub setup: Option<Setup>,
}

impl ServiceSpec {
    pub fn new(service: Service, default_port: u16) -> Self {
        Self {
            service,
            default_port,
            extra_bindings: Vec::new(),
            dispatch: Dispatch::new(service),
            single_active_consumer: false,
            setup: None,
        }
    }

    pub fn bind(mut self, exchange: &str, pattern: &str) -> Self {
        self.extra_bindings.push(Binding {
            exchange: exchange.to_owned(),
            pattern: pattern.to_owned(),
        });
        self
    }

    pub fn setup(mut self, setup: Setup) -> Self {
        self.setup = Some(setup);
        self
    }

    /// The service's queue: named after it, bound to its commands, the events it handles and
    /// the extra bindings. Nothing else reaches it, so a delivery it cannot handle is
    /// misrouted, and dead-lettered as such.
    pub fn queue(&self) -> QueueSpec {
        let name = self.service.as_str();
        let mut queue = QueueSpec::new(name).bind(COMMANDS_EXCHANGE, &format!("{name}.#"));
        for key in self.dispatch.event_keys() {
            queue = queue.bind(EVENTS_EXCHANGE, key.as_str());
        }
        queue.bindings.extend(self.extra_bindings.iter().cloned());
        queue.single_active_consumer = self.single_active_consumer;
        queue
    }
}
