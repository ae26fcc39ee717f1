//! The shell every Detour service runs in: settings, telemetry, the bus consumer and
//! publisher, the operations endpoints (`/healthz`, `/readyz`, `/metrics`), the `ping`
//! command answered with a `pong` event, and a graceful drain on SIGTERM.
//!
//! A service describes itself with a [`ServiceSpec`] (its name, default port, bindings and
//! handlers) and its `main.rs` calls [`main`]. Tests start the same [`App`] in-process.
//!
//! # Layout
//! `spec` (what a service declares), `settings` (the shared sections and their defaults),
//! `app` (wiring and the run loop), `dispatch` (message type to handler), `extras` (routes,
//! a fallback handler and background tasks a service adds), `ops` (HTTP operations
//! endpoints), `entry` (process start: arguments, exit codes, signals), `shared_read` (one
//! read shared by a burst of callers: the tenant's settings, Exchange's accepted domains).

mod app;
mod dispatch;
mod entry;
mod extras;
mod ops;
mod settings;
mod shared_read;
mod spec;

pub use app::{App, RunningApp};
pub use dispatch::{Dispatch, HandlerContext, StepFailure, record_envelope};
pub use entry::{main, main_with};
pub use extras::{Extras, Fallback, Setup, Task};
pub use settings::{
    HttpSettings, ServiceConfig, ServiceSettings, ShutdownSettings, load_config, load_settings,
    parse_config,
};
pub use shared_read::SharedRead;
pub use spec::ServiceSpec;
