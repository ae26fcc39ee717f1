//! The coordinator's durable store: remediations, the inbox (dedup), the outbox (commands to
//! publish, and the register of what each was for), timers and the audit log.
//!
//! One [`Store`] over sqlx's `Any` driver with two backends chosen by URL: SQLite
//! (`sqlite://path/coordinator.db`, the default, nothing to install) and PostgreSQL
//! (`postgres://...`, for several replicas). Both get the same schema (`schema`) and the same
//! queries; the test suite runs against each. Every change to a remediation is one
//! [`Commit`], written in one transaction: the record with an optimistic version check, the
//! inbox row, the outbox rows, the timers and the log entries, or none of them.

mod admission;
mod commit;
mod lease;
mod schema;

use std::collections::BTreeMap;

use detour_contracts::{SagaId, TicketRef};
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::saga::{Phase, Purpose, Timer};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store: {0}")]
    Open(#[from] detour_sql::OpenError),
    #[error("saga {0} changed under us (another replica or message got there first)")]
    Conflict(SagaId),
    #[error("the takeover lease changed under us (another saga or replica got there first)")]
    LeaseConflict,
    #[error("a stored {what} does not parse: {source}")]
    Corrupt {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub use detour_sql::Backend;

/// One remediation as stored: who, for which ticket, in which phase, and the trace it belongs
/// to (every command it sends is a child of that trace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaRecord {
    pub saga_id: SagaId,
    pub user: String,
    pub ticket: Option<TicketRef>,
    pub dry_run: bool,
    pub trace_context: BTreeMap<String, String>,
    pub phase: Phase,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl SagaRecord {
    /// While this holds, no other remediation of the same user may start.
    pub fn holds_user(&self) -> bool {
        !self.dry_run && !self.phase.is_over()
    }

    /// While this holds, the user may be out of sync scope: it counts against `max_descoped`.
    pub fn holds_slot(&self) -> bool {
        self.phase.holds_descope_slot()
    }
}

/// A record and the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub record: SagaRecord,
    pub version: i64,
}

/// A command to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub message_id: String,
    pub purpose: Option<Purpose>,
    pub exchange: String,
    pub routing_key: String,
    pub message_type: String,
    pub body: String,
}

/// An outbox row waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub seq: i64,
    pub saga_id: SagaId,
    pub message: OutboxMessage,
    pub trace_context: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    pub timer_id: String,
    pub saga_id: SagaId,
    pub timer: Timer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `input`, `decision`, `command`, `published`, `timer`, `error`, ...
    pub kind: String,
    pub detail: String,
}

/// One change to a remediation, written whole or not at all.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The version read (`None`: a new remediation).
    pub expected_version: Option<i64>,
    pub record: SagaRecord,
    /// The message this change answers, recorded so a redelivery changes nothing.
    pub inbox: Option<String>,
    pub outbox: Vec<OutboxMessage>,
    pub timers: Vec<(OffsetDateTime, Timer)>,
    /// The timer that fired, removed with this change.
    pub fired_timer: Option<String>,
    pub log: Vec<LogEntry>,
    /// The takeover lease as this change leaves it, when it moved it.
    pub lease: Option<LeaseWrite>,
}

/// The takeover lease as read at `expected_version` (0: never written), and as it is to be.
#[derive(Debug, Clone)]
pub struct LeaseWrite {
    pub expected_version: i64,
    pub lease: crate::saga::takeover::Lease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Written; the record is now at this version.
    Applied { version: i64 },
    /// The inbox already held the message: nothing was written.
    Duplicate,
    /// A new remediation, but the user already has one: nothing was written.
    UserTaken { existing: SagaId },
}

/// What lists filter on; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Filter {
    pub status: Option<String>,
    pub user: Option<String>,
    pub ticket: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub saga_id: SagaId,
    pub user: String,
    pub ticket: Option<String>,
    pub status: String,
    pub strategy: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if need be) the store at `url` and applies the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (backend, pool) = detour_sql::open(url).await?;
        let store = Self { pool, backend };
        store.apply_schema().await?;
        Ok(store)
    }

    async fn apply_schema(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Replicas starting together must not race on CREATE ... IF NOT EXISTS.
            sqlx::query("SELECT pg_advisory_xact_lock(7468377)")
                .execute(&mut *tx)
                .await?;
        }
        for statement in schema::statements(self.backend) {
            // The schema is this module's own text, not input.
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn load(&self, saga_id: SagaId) -> Result<Option<Versioned>, StoreError> {
        let row = sqlx::query("SELECT record, version FROM sagas WHERE saga_id = $1")
            .bind(saga_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let record: String = row.try_get("record")?;
            Ok(Versioned {
                record: parse("saga record", &record)?,
                version: row.try_get("version")?,
            })
        })
        .transpose()
    }

    /// The remediation holding `user` now, if any.
    pub async fn active_for(&self, user: &str) -> Result<Option<SagaId>, StoreError> {
        let row = sqlx::query("SELECT saga_id FROM sagas WHERE user_key = $1 AND holds_user = 1")
            .bind(user_key(user))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| saga_id(&row)).transpose()
    }

    /// Which remediation sent `message_id`, and for what.
    pub async fn purpose_of(
        &self,
        message_id: &str,
    ) -> Result<Option<(SagaId, Option<Purpose>)>, StoreError> {
        let row = sqlx::query("SELECT saga_id, purpose FROM outbox WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let purpose: Option<String> = row.try_get("purpose")?;
        let purpose = purpose.map(|p| parse("purpose", &p)).transpose()?;
        Ok(Some((saga_id(&row)?, purpose)))
    }

    /// Outbox rows not yet published, oldest first.
    pub async fn unpublished(&self, limit: u32) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, saga_id, message_id, purpose, exchange, routing_key, message_type, \
             body, trace_context FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pending).collect()
    }

    /// Every command the saga sent (published or not; progress events left out), in order:
    /// what an operator replays, or a test replays to prove replays harmless.
    pub async fn commands_of(&self, saga_id: SagaId) -> Result<Vec<Pending>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, saga_id, message_id, purpose, exchange, routing_key, message_type, \
             body, trace_context FROM outbox WHERE saga_id = $1 AND purpose IS NOT NULL \
             ORDER BY seq",
        )
        .bind(saga_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pending).collect()
    }

    /// Marks these outbox rows published, in one write.
    pub async fn mark_published(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let list = numbered(2, seqs.len(), |n| format!("${n}"));
        let sql = format!("UPDATE outbox SET published_at = $1 WHERE seq IN ({list})");
        // Only placeholders are interpolated.
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(millis(OffsetDateTime::now_utc()));
        for seq in seqs {
            query = query.bind(*seq);
        }
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Timers due at `now`, soonest first.
    pub async fn due_timers(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows = sqlx::query(
            "SELECT timer_id, saga_id, timer FROM timers WHERE due_at <= $1 \
             ORDER BY due_at LIMIT $2",
        )
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let timer: String = row.try_get("timer")?;
                Ok(DueTimer {
                    timer_id: row.try_get("timer_id")?,
                    saga_id: saga_id(row)?,
                    timer: parse("timer", &timer)?,
                })
            })
            .collect()
    }

    /// Removes a timer whose saga is gone or which can no longer matter.
    pub async fn drop_timer(&self, timer_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM timers WHERE timer_id = $1")
            .bind(timer_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Appends to a remediation's log outside a commit (publish results, errors).
    pub async fn append_log(&self, saga_id: SagaId, entry: &LogEntry) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO saga_log (saga_id, at, kind, detail) VALUES ($1, $2, $3, $4)")
            .bind(saga_id.to_string())
            .bind(millis(entry.at))
            .bind(&entry.kind)
            .bind(&entry.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn timeline(&self, saga_id: SagaId) -> Result<Vec<LogEntry>, StoreError> {
        let rows =
            sqlx::query("SELECT at, kind, detail FROM saga_log WHERE saga_id = $1 ORDER BY seq")
                .bind(saga_id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(LogEntry {
                    at: from_millis(row.try_get("at")?),
                    kind: row.try_get("kind")?,
                    detail: row.try_get("detail")?,
                })
            })
            .collect()
    }

    /// Remediations matching `filter`, newest first.
    pub async fn list(&self, filter: &Filter) -> Result<Vec<Summary>, StoreError> {
        let rows = sqlx::query(
            "SELECT saga_id, user_name, status, strategy, ticket, created_at, updated_at FROM sagas \
             WHERE ($1 = '' OR status = $1) AND ($2 = '' OR user_key = $2) \
             AND ($3 = '' OR ticket = $3) ORDER BY created_at DESC, saga_id DESC LIMIT $4",
        )
        .bind(filter.status.clone().unwrap_or_default())
        .bind(filter.user.as_deref().map(user_key).unwrap_or_default())
        .bind(filter.ticket.clone().unwrap_or_default())
        .bind(i64::from(filter.limit.unwrap_or(100).min(1000)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Summary {
                    saga_id: saga_id(row)?,
                    user: row.try_get("user_name")?,
                    ticket: row.try_get("ticket")?,
                    status: row.try_get("status")?,
                    strategy: row.try_get("strategy")?,
                    created_at: from_millis(row.try_get("created_at")?),
                    updated_at: from_millis(row.try_get("updated_at")?),
                })
            })
            .collect()
    }

    /// How many remediations are in each status.
    pub async fn counts(&self) -> Result<BTreeMap<String, i64>, StoreError> {
        sqlx::query("SELECT status, COUNT(*) AS n FROM sagas GROUP BY status")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
            .collect()
    }
}

fn pending(row: &sqlx::any::AnyRow) -> Result<Pending, StoreError> {
    let purpose: Option<String> = row.try_get("purpose")?;
    let trace: String = row.try_get("trace_context")?;
    Ok(Pending {
        seq: row.try_get("seq")?,
        saga_id: saga_id(row)?,
        trace_context: parse("trace context", &trace)?,
        message: OutboxMessage {
            message_id: row.try_get("message_id")?,
            purpose: purpose.map(|p| parse("purpose", &p)).transpose()?,
            exchange: row.try_get("exchange")?,
            routing_key: row.try_get("routing_key")?,
            message_type: row.try_get("message_type")?,
            body: row.try_get("body")?,
        },
    })
}

/// `count` comma-separated items, the `n`th (from `first`) made by `item`.
fn numbered(first: usize, count: usize, item: impl Fn(usize) -> String) -> String {
    (first..first + count)
        .map(item)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Users compare case-insensitively, as UPNs do.
fn user_key(user: &str) -> String {
    user.trim().to_lowercase()
}

fn saga_id(row: &sqlx::any::AnyRow) -> Result<SagaId, StoreError> {
    let text: String = row.try_get("saga_id")?;
    text.parse::<uuid::Uuid>()
        .map(SagaId::from)
        .map_err(|error| StoreError::Database(sqlx::Error::Decode(Box::new(error))))
}

fn parse<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Corrupt { what, source })
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
