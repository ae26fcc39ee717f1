//! Detour's message contracts: the envelope every message travels in, the [`Message`] trait
//! that gives each message type its routing key and schema version, and the message types.
//!
//! Serde only: this crate never depends on an I/O crate, so every service and the tenant
//! simulator can share it. Each message type has a committed JSON sample under `samples/`,
//! checked against the types by this crate's tests.
//!
//! # Layout
//! `envelope` (the wire envelope), `message` (trait, kinds, routing keys), `ids` (typed
//! identifiers), `upn` (user principal names as Entra accepts them), `address` (proxy
//! addresses compared as Exchange compares them), `dn` (distinguished names per RFC 4514, and
//! containment), `service` (the six services by name), `ping` (liveness command and event),
//! `sync_trigger`, `ad_ops`, `cloud_directory` and `mailbox_ops` (each step service's commands
//! and events), `saga_coordinator` (requests to remediate a user, their answers, progress for
//! tickets), `ticket_gateway` (notes for tickets), `catalog` (every message type, for routers
//! and contract tests), `connect_agent` (the HTTP API of the agent on the Entra Connect
//! server, shared by sync-trigger and tenant-sim).

pub mod ad_ops;
pub mod address;
mod catalog;
pub mod cloud_directory;
pub mod connect_agent;
pub mod dn;
mod envelope;
mod ids;
pub mod mailbox_ops;
mod message;
mod ping;
pub mod saga_coordinator;
mod service;
pub mod sync_trigger;
pub mod ticket_gateway;
mod upn;

pub use address::{AddressError, ProxyAddress};
pub use catalog::{MessageSpec, catalog};
pub use dn::{Dn, DnError};
pub use envelope::{ContractError, Envelope, EnvelopeHeader};
pub use ids::{MessageId, SagaId, TicketRef, TicketSystem};
pub use message::{COMMANDS_EXCHANGE, EVENTS_EXCHANGE, Message, MessageKind, RoutingKey};
pub use ping::{Ping, Pong};
pub use service::{Service, UnknownService};
pub use upn::{MAX_UPN, Upn, UpnError};
