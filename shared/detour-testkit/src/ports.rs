//! Loopback ports for servers a test starts as child processes, which bind them later, and
//! bind them again when a test kills and restarts them.
//!
//! A port taken with `bind(127.0.0.1:0)` and let go comes from the kernel's ephemeral range,
//! which every other test's own listeners (and outgoing connections) draw from too: in the
//! gap before the child binds it, or while a killed child is down, a test running beside may
//! be handed the same port, and then one of them talks to the other's server. So these ports
//! come from below that range, where the kernel never hands a port out unasked.

use std::net::TcpListener;

/// Where the ports are drawn from when the kernel's ephemeral range cannot be read.
const FALLBACK_EPHEMERAL_START: u16 = 32768;
/// The lowest port drawn: above the well-known ports and the usual fixed server ports.
const LOWEST: u16 = 10000;

/// A loopback port free now, below the ephemeral range.
pub fn free_port() -> u16 {
    let below = ephemeral_start().max(LOWEST + 1);
    let span = u128::from(below - LOWEST);
    for _ in 0..1000 {
        let port = LOWEST + (uuid::Uuid::new_v4().as_u128() % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {LOWEST}..{below}");
}

/// The first port of the kernel's ephemeral range (`ip_local_port_range`).
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(FALLBACK_EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_below_the_ephemeral_range_and_are_free() {
        let start = ephemeral_start();
        for _ in 0..50 {
            let port = free_port();
            assert!((LOWEST..start).contains(&port), "{port}");
            TcpListener::bind(("127.0.0.1", port)).expect("free when handed out");
        }
    }
}
