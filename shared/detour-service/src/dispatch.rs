//! From a delivery to the handler for its message type. A payload that does not decode, or a
//! type the service does not handle, is rejected with a reason a person can act on.

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc};

use detour_bus::{Incoming, Outcome, PublishError, Publisher};
use detour_contracts::{Envelope, Message, MessageKind, Ping, Pong, RoutingKey, Service};

use crate::Fallback;

/// A step service's error as the bus sees it: trouble that retrying may fix, or a failure the
/// requester is told about with the service's `...-command-failed` event.
pub trait StepFailure: fmt::Display {
    type Event: Message;

    /// The failure event for `command`, or `None` when the command should be retried.
    fn failure_event(&self, command: &'static str) -> Option<Self::Event>;
}

/// What a handler gets besides its message.
#[derive(Debug, Clone)]
pub struct HandlerContext {
    pub service: Service,
    /// Host name and process id, to tell replicas apart.
    pub instance: String,
    pub publisher: Publisher,
}

impl HandlerContext {
    /// Answers `command` with `event`: handled once the broker confirms it, retried if not.
    pub async fn reply<C: Message, E: Message>(&self, command: &Envelope<C>, event: E) -> Outcome {
        self.count(C::NAME, "succeeded");
        match self
            .publisher
            .publish(&Envelope::caused_by(event, command))
            .await
        {
            Ok(()) => Outcome::Handled,
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }

    /// Answers `command` with the service's failure event and dead-letters the command with
    /// `reason`; if the failure event cannot be confirmed, the command is retried instead, so
    /// the failure is never silent.
    pub async fn refuse<C: Message, E: Message>(
        &self,
        command: &Envelope<C>,
        failure: E,
        reason: String,
    ) -> Outcome {
        self.count(C::NAME, "refused");
        match self
            .publisher
            .publish(&Envelope::caused_by(failure, command))
            .await
        {
            Ok(()) => Outcome::Reject(reason),
            Err(publish) => Outcome::Retry(format!(
                "{reason}; and the failure event was not confirmed: {publish}"
            )),
        }
    }

    /// Answers `command` failed with `error`: retried if retrying may help, else refused with
    /// the service's failure event (one mapping for every step service).
    pub async fn fail<C: Message, F: StepFailure>(
        &self,
        command: &Envelope<C>,
        error: F,
    ) -> Outcome {
        let reason = error.to_string();
        match error.failure_event(C::NAME) {
            None => self.retry::<C>(reason),
            Some(failure) => self.refuse(command, failure, reason).await,
        }
    }

    /// A transient failure: the bus will deliver the command again later.
    pub fn retry<C: Message>(&self, reason: impl Into<String>) -> Outcome {
        self.count(C::NAME, "retried");
        Outcome::Retry(reason.into())
    }

    fn count(&self, command: &'static str, outcome: &'static str) {
        metrics::counter!("detour_commands_total",
            "service" => self.service.as_str(), "command" => command, "outcome" => outcome)
        .increment(1);
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
type Handler = Arc<dyn Fn(&Incoming, HandlerContext) -> HandlerFuture + Send + Sync>;

#[derive(Clone)]
pub struct Dispatch {
    service: Service,
    handlers: HashMap<&'static str, Handler>,
    /// The routing keys of the events it handles: its queue binds exactly these.
    events: Vec<RoutingKey>,
    otherwise: Option<Fallback>,
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<_> = self.handlers.keys().collect();
        types.sort();
        f.debug_struct("Dispatch")
            .field("service", &self.service)
            .field("types", &types)
            .finish()
    }
}

impl Dispatch {
    /// A dispatch that answers `ping`, as every service does.
    pub fn new(service: Service) -> Self {
        Self {
            service,
            handlers: HashMap::new(),
            events: Vec::new(),
            otherwise: None,
        }
        .on::<Ping, _, _>(answer_ping)
    }

    /// Routes messages of type `M` to `handler`, decoded.
    pub fn on<M, F, Fut>(mut self, handler: F) -> Self
    where
        M: Message,
        F: Fn(Envelope<M>, HandlerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let typed: Handler = Arc::new(move |incoming, context| match incoming.decode::<M>() {
            Ok(envelope) => {
                record_envelope(&envelope);
                Box::pin(handler(envelope, context))
            }
            Err(error) => Box::pin(std::future::ready(Outcome::Reject(error.to_string()))),
        });
        self.handlers.insert(M::NAME, typed);
        if M::KIND == MessageKind::Event
            && let Some(key) = M::fixed_routing_key()
        {
            self.events.push(key);
        }
        self
    }

    /// Routes `C` commands to `step`, which is given the service's `state` (its port to the
    /// outside: LDAP, Graph, Exchange, Connect) and the command, and answers with the event or
    /// a [`StepFailure`]. Replying, retrying and refusing are done here, the same way for every
    /// step service, so a step is a plain async function a test can call with a fake port.
    pub fn step<S, C, E, F, H, Fut>(self, state: &Arc<S>, step: H) -> Self
    where
        S: Send + Sync + ?Sized + 'static,
        C: Message + Clone,
        E: Message,
        F: StepFailure + Send,
        H: Fn(Arc<S>, C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<E, F>> + Send + 'static,
    {
        let state = Arc::clone(state);
        self.on::<C, _, _>(move |command, context| {
            let answer = step(Arc::clone(&state), command.payload.clone());
            async move {
                match answer.await {
                    Ok(event) => context.reply(&command, event).await,
                    Err(failure) => context.fail(&command, failure).await,
                }
            }
        })
    }

    /// The routing keys of the events it has handlers for.
    pub fn event_keys(&self) -> &[RoutingKey] {
        &self.events
    }

    /// Hands messages of every other type to `fallback` instead of rejecting them.
    pub fn otherwise(mut self, fallback: Fallback) -> Self {
        self.otherwise = Some(fallback);
        self
    }

    pub async fn dispatch(&self, incoming: Incoming, context: HandlerContext) -> Outcome {
        let header = match incoming.header() {
            Ok(header) => header,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let now = time::OffsetDateTime::now_utc();
        if header.has_expired(now) {
            return Outcome::Expired(format!(
                "{} {} expired at {}; its sender no longer waits for it",
                header.message_type,
                header.message_id,
                header
                    .expires_at
                    .and_then(|at| at
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok())
                    .unwrap_or_default(),
            ));
        }
        match (
            self.handlers.get(header.message_type.as_str()),
            &self.otherwise,
        ) {
            (Some(handler), _) => handler(&incoming, context).await,
            (None, Some(fallback)) => fallback(incoming).await,
            (None, None) => Outcome::Reject(format!(
                "{} does not handle {} messages",
                self.service, header.message_type
            )),
        }
    }
}

/// Tags the delivery's span with the saga, the step (the message's type) and the ticket, so a
/// trace search finds them.
pub fn record_envelope<M: Message>(envelope: &Envelope<M>) {
    let span = tracing::Span::current();
    span.record("detour.step", M::NAME);
    if let Some(saga_id) = envelope.saga_id {
        span.record("detour.saga_id", saga_id.to_string());
    }
    if let Some(ticket) = &envelope.ticket {
        span.record("detour.ticket", ticket.to_string());
    }
}

/// Answers a ping with a pong that carries the trace id this hop saw.
async fn answer_ping(ping: Envelope<Ping>, context: HandlerContext) -> Outcome {
    if ping.payload.target != context.service {
        return Outcome::Reject(format!(
            "a ping for {} reached {}",
            ping.payload.target, context.service
        ));
    }
    let pong = Envelope::caused_by(
        Pong {
            responder: context.service,
            instance: context.instance.clone(),
            trace_id: detour_telemetry::current_trace_id(),
        },
        &ping,
    );
    match context.publisher.publish(&pong).await {
        Ok(()) => Outcome::Handled,
        // A pong nobody listens for has done its job: the ping reached a live service.
        Err(PublishError::Unroutable { .. }) => {
            tracing::info!("pong published with no listener bound");
            Outcome::Handled
        }
        Err(error) => Outcome::Retry(error.to_string()),
    }
}
