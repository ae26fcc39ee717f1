//! tenant-sim: one process that plays a Microsoft 365 hybrid tenant for Detour. It serves the
//! identity platform's token endpoint, Microsoft Graph v1.0, Exchange Online's InvokeCommand,
//! the Connect agent API, and the Jira and ServiceNow endpoints Detour writes to, with the
//! behaviour documented in `domain.md`. Its sync engine reads a real Active Directory over LDAP.
//!
//! # Layout
//! `world` (the tenant as plain data and pure rules: users, licences, mailboxes, the sync
//! engine), `clock` (simulated time), `scenario` (a tenant and its AD objects, loaded from JSON),
//! `ad` (the LDAP side: read a snapshot, create scenario objects), `http` (one router per API),
//! `settings`, `app` (wiring), `fixture` (a tenant for other crates' tests, feature `fixture`).

pub mod ad;
pub mod adsync;
pub mod app;
pub mod clock;
pub mod faults;
#[cfg(feature = "fixture")]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a test fixture: failing loudly is its job"
)]
pub mod fixture;
pub mod http;
pub mod scenario;
pub mod settings;
pub mod tickets;
pub mod world;
