//! tenant-sim over real HTTP and the dev stack's real Samba AD: the seed's story replayed
//! against it, and the APIs' rules and error shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod cloud_sync;
mod seed_story;
mod support;
mod switches;
mod tickets;
