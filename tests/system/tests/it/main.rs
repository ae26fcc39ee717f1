//! Detour as a whole: the six services together on one test vhost, and the container wiring
//! checked against the code's settings.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod chaos;
mod clients;
mod compose;
mod coordinator;
mod gateway;
mod k8s;
mod ladder;
mod many;
mod ping_all;
mod procedure;
mod reach;
mod replays;
mod trace;
mod user_soa;
