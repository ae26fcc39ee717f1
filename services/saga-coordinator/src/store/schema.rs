//! The tables, in each backend's dialect. Both hold the same columns; only the generated key
//! differs. Applied at open (`CREATE ... IF NOT EXISTS`), so a new coordinator brings its own.

use super::Backend;

/// `sagas`: one row per remediation, its whole record as JSON, the columns lists filter on,
/// and `version` for optimistic concurrency. `holds_user` is 1 while a non-dry-run remediation
/// has not ended: the partial unique index makes "one active saga per user" a database fact.
/// `inbox`: every message id taken in (dedup). `outbox`: every command to publish, kept after
/// publishing as the register that maps an answer's causation id back to its purpose.
/// `timers`: due times. `saga_log`: the append-only audit trail. `leases`: state shared by
/// sagas (the tenant's takeover block), under the same optimistic version check.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS sagas (
    saga_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    user_key TEXT NOT NULL,
    user_name TEXT NOT NULL,
    ticket TEXT,
    status TEXT NOT NULL,
    strategy TEXT,
    holds_user INTEGER NOT NULL,
    holds_slot INTEGER NOT NULL,
    record TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_saga_per_user ON sagas (user_key) WHERE holds_user = 1;
CREATE INDEX IF NOT EXISTS sagas_by_status ON sagas (status, created_at);
CREATE TABLE IF NOT EXISTS inbox (
    message_id TEXT PRIMARY KEY,
    saga_id TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq {serial},
    message_id TEXT NOT NULL UNIQUE,
    saga_id TEXT NOT NULL,
    purpose TEXT,
    exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    message_type TEXT NOT NULL,
    body TEXT NOT NULL,
    trace_context TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS timers (
    timer_id TEXT PRIMARY KEY,
    saga_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    timer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due_at);
CREATE TABLE IF NOT EXISTS saga_log (
    seq {serial},
    saga_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS saga_log_by_saga ON saga_log (saga_id, seq);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    state TEXT NOT NULL
);
";

/// The schema's statements for `backend`, one at a time.
pub fn statements(backend: Backend) -> Vec<String> {
    let serial = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    };
    TABLES
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("{serial}", serial))
        .collect()
}
