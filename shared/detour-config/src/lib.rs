//! Layered settings for every Detour process: built-in defaults, then an optional TOML file,
//! then `DETOUR__SECTION__KEY` environment variables; then validation that reports every
//! problem at once. A duration kept in a unit (`poll_every_ms`) may be written with one
//! (`poll_every = "5s"`); a secret may be given in a file (`<key>_file`). Secrets are [`Secret`]s: never displayed, redacted in `Debug`.
//!
//! The loader takes its sources as parameters ([`Sources`]), so tests never touch the process
//! environment. A process that cannot load its settings prints the [`ConfigError`] and exits
//! with [`EXIT_BAD_CONFIG`] before it opens any connection.
//!
//! # Layout
//! `sources` (where values come from), `load` (merge, deserialize, validate), `durations`
//! (`30s` for a setting kept in milliseconds or seconds), `twins` (a secret given in a `_file`
//! instead), `problems` (validation reports), `secret` (redacted
//! secret values).

mod durations;
mod load;
mod problems;
mod secret;
mod sources;
mod twins;

pub use load::{ConfigError, Settings, load, parse};
pub use problems::Problems;
pub use secret::{Secret, SecretKey};
pub use sources::Sources;

/// `EX_CONFIG` from sysexits.h: the process was started with a bad configuration.
pub const EXIT_BAD_CONFIG: i32 = 64;
