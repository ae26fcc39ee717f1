//! The I/O around the pure core: the `engine` (load, decide, store), what one decision writes
//! to the `outbox` and the `timeline`, the `wire` format of commands and answers, the `intake`
//! of answers from the bus, the outbox `relay`, the `timers` that fire from the store, and the
//! tenant's takeover `lease` that sagas share.

pub mod engine;
pub mod intake;
mod lease;
mod outbox;
pub mod relay;
pub mod timeline;
pub mod timers;
pub mod wire;

pub use engine::{Delivery, Engine, EngineError, Handled, StartRequest, Started};
