//! Talking to Microsoft's cloud the way it wants to be talked to: client-credentials tokens
//! from the identity platform, one resource per token, cached and refreshed before they expire
//! [S12]; and calls that honour `Retry-After` on 429 (and 503), back off with jitter on other
//! 5xx and timeouts (`detour-retry`'s policy), and share one budget per tenant so a burst of
//! sagas slows down instead of failing [S9]. cloud-directory (Graph) and mailbox-ops (Exchange
//! Online) both use it.
//!
//! # Layout
//! `token` (token source), `call` (sending with retries and the shared budget), `settings`.

mod call;
mod settings;
mod token;

pub use call::{AfterWrite, Answer, CallError, Caller, GRAPH_SCOPE, received};
pub use settings::{ApiSettings, EntraSettings};
pub use token::{TokenError, TokenSource};
