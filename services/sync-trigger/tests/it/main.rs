//! sync-trigger against the real broker, tenant-sim's Connect server (through its agent API,
//! and over a real OpenSSH server to its simulated PowerShell), tenant-sim's Cloud Sync (over
//! Graph's synchronization API) and the dev stack's Samba:
//! coalescing, the next cycle for late requests, per-object outcomes, refusals, replicas that
//! never overlap, host-key pinning, hostile values and dropped connections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cloud_sync;
mod cycles;
mod ssh;
mod support;
