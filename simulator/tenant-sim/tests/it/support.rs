//! The tenant fixture, under the name these tests use.

pub use tenant_sim::fixture::{E3, EXCHANGE, GRAPH, TenantFixture as Harness};
