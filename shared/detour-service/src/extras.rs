//! What a service may add to the shell beyond typed handlers, set up when the app starts
//! (so it may connect to things first): HTTP routes beside the ops endpoints, a handler for
//! message types it has no typed handler for, and background tasks stopped with the app.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use axum::Router;
use detour_bus::{Incoming, Outcome, Publisher};
use tokio_util::sync::CancellationToken;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Handles a delivery no typed handler claims.
pub type Fallback = Arc<dyn Fn(Incoming) -> BoxFuture<Outcome> + Send + Sync>;
/// A task that runs until its token is cancelled.
pub type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<()> + Send>;
/// Builds the extras once the publisher exists.
#[derive(Clone)]
pub struct Setup(Arc<dyn Fn(Publisher) -> BoxFuture<anyhow::Result<Extras>> + Send + Sync>);

impl Setup {
    pub fn new<F, Fut>(build: F) -> Self
    where
        F: Fn(Publisher) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Extras>> + Send + 'static,
    {
        Self(Arc::new(move |publisher| Box::pin(build(publisher))))
    }

    pub(crate) async fn run(&self, publisher: Publisher) -> anyhow::Result<Extras> {
        (self.0)(publisher).await
    }
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Setup")
    }
}

#[derive(Default)]
pub struct Extras {
    pub routes: Option<Router>,
    pub fallback: Option<Fallback>,
    pub tasks: Vec<Task>,
}

impl fmt::Debug for Extras {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extras")
            .field("routes", &self.routes.is_some())
            .field("fallback", &self.fallback.is_some())
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

impl Extras {
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = Some(routes);
        self
    }

    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Incoming) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.fallback = Some(Arc::new(move |incoming| Box::pin(handler(incoming))));
        self
    }

    pub fn task<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .push(Box::new(move |token| Box::pin(task(token))));
        self
    }
}
