//! sync-trigger against the real broker, tenant-sim's Connect agent and the dev stack's Samba:
//! coalescing, the next cycle for late requests, per-object outcomes, refusals, and replicas
//! that never overlap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cycles;
mod support;
