//! ad-ops against the real broker and the dev stack's Samba AD: the binary as an operator runs
//! it, and every command through the bus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod binary;
mod commands;
mod proxy_addresses;
mod support;
