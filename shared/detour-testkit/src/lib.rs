//! Test fixtures over the real dev stack (`deploy/dev-stack.sh up`): each test gets its own
//! RabbitMQ vhost, Samba OU or OTLP receiver and gives it back on drop, so tests run in
//! parallel and twice in a row.
//!
//! # Layout
//! `chaos_proxy` (cut and restore a TCP link, for one test), `database` (a PostgreSQL database
//! or SQLite file per test), `stack` (what the dev stack wrote to `stack.env`), `rabbit` (per-test vhosts, forced
//! disconnects through the management API), `directory` (per-test OUs over verified LDAPS), `instant_world` (the step services'
//! healthy answers at once, to measure or break the coordinator alone),
//! `otlp` (an OTLP/HTTP receiver decoding real protobuf), `ports` (a free loopback port), `poll` (wait for a condition with a
//! deadline, never a bare sleep), `service_harness` (a service in-process on a test vhost, with
//! commands in and answers out).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test fixtures: failing loudly is their job"
)]

pub mod chaos_proxy;
pub mod database;
pub mod directory;
pub mod instant_world;
pub mod otlp;
pub mod poll;
pub mod ports;
pub mod rabbit;
pub mod service_harness;
pub mod stack;

pub use chaos_proxy::ChaosProxy;
pub use database::{TestDatabase, TestSqlite};
pub use directory::{Directory, TestOu};
pub use instant_world::InstantWorld;
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use poll::eventually;
pub use ports::free_port;
pub use rabbit::TestVhost;
pub use service_harness::{Answer, Build, ServiceHarness};
pub use stack::Stack;
