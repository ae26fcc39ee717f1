//! Writing one [`Commit`] in one transaction, step by step: claim the inbox row (a redelivery
//! stops here), write the record under its version check, then its outbox rows, timers and
//! log entries.

use sqlx::{Any, AssertSqlSafe, Transaction};
use time::OffsetDateTime;

use super::{
    Commit, Committed, LogEntry, OutboxMessage, SagaRecord, Store, StoreError, millis, numbered,
    user_key,
};
use crate::saga::Timer;

pub(super) type Tx = Transaction<'static, Any>;

impl Store {
    /// Writes `commit` in one transaction. A version that moved is a [`StoreError::Conflict`]:
    /// reload and decide again.
    pub async fn commit(&self, commit: &Commit) -> Result<Committed, StoreError> {
        let record = &commit.record;
        let id = record.saga_id.to_string();
        let now = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool.begin().await?;
        if let Some(message_id) = &commit.inbox
            && !claim_inbox(&mut tx, message_id, &id, now).await?
        {
            return Ok(Committed::Duplicate);
        }
        let version = match commit.expected_version {
            None => match insert_record(&mut tx, record, now).await {
                Ok(()) => 1,
                Err(StoreError::Database(sqlx::Error::Database(error)))
                    if error.is_unique_violation() =>
                {
                    drop(tx);
                    return match self.active_for(&record.user).await? {
                        Some(existing) => Ok(Committed::UserTaken { existing }),
                        None => Err(StoreError::Conflict(record.saga_id)),
                    };
                }
                Err(error) => return Err(error),
            },
            Some(expected) => {
                update_record(&mut tx, record, expected, now).await?;
                expected + 1
            }
        };
        insert_outbox(&mut tx, &id, &record.trace_context, &commit.outbox, now).await?;
        if let Some(lease) = &commit.lease {
            super::lease::write_lease(&mut tx, lease).await?;
        }
        insert_timers(&mut tx, &id, &commit.timers).await?;
        if let Some(timer_id) = &commit.fired_timer {
            sqlx::query("DELETE FROM timers WHERE timer_id = $1")
                .bind(timer_id)
                .execute(&mut *tx)
                .await?;
        }
        append_log(&mut tx, &id, &commit.log).await?;
        tx.commit().await?;
        Ok(Committed::Applied { version })
    }
}

/// Records `message_id` as handled; `false` when it already was (a redelivery).
pub(super) async fn claim_inbox(
    tx: &mut Tx,
    message_id: &str,
    id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO inbox (message_id, saga_id, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// The record's JSON and the columns lists and admission filter on.
struct Columns {
    body: String,
    status: &'static str,
    strategy: Option<String>,
    holds_user: i32,
    holds_slot: i32,
}

impl Columns {
    fn of(record: &SagaRecord) -> Result<Self, StoreError> {
        Ok(Self {
            body: serde_json::to_string(record).map_err(|source| StoreError::Corrupt {
                what: "saga record",
                source,
            })?,
            status: record.phase.status(),
            strategy: record.phase.strategy().map(|s| format!("{s:?}")),
            holds_user: i32::from(record.holds_user()),
            holds_slot: i32::from(record.holds_slot()),
        })
    }
}

/// A new remediation; a unique violation means the user already has an active one.
async fn insert_record(tx: &mut Tx, record: &SagaRecord, now: i64) -> Result<(), StoreError> {
    let columns = Columns::of(record)?;
    sqlx::query(
        "INSERT INTO sagas (saga_id, version, user_key, user_name, ticket, status, \
         strategy, holds_user, holds_slot, record, created_at, updated_at) \
         VALUES ($1, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(record.saga_id.to_string())
    .bind(user_key(&record.user))
    .bind(&record.user)
    .bind(record.ticket.as_ref().map(ToString::to_string))
    .bind(columns.status)
    .bind(columns.strategy)
    .bind(columns.holds_user)
    .bind(columns.holds_slot)
    .bind(&columns.body)
    .bind(millis(record.created_at))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The next version of a remediation read at `expected`; anything else is a conflict.
async fn update_record(
    tx: &mut Tx,
    record: &SagaRecord,
    expected: i64,
    now: i64,
) -> Result<(), StoreError> {
    let columns = Columns::of(record)?;
    let updated = sqlx::query(
        "UPDATE sagas SET version = $1, status = $2, strategy = $3, holds_user = $4, \
         holds_slot = $5, record = $6, updated_at = $7 \
         WHERE saga_id = $8 AND version = $9",
    )
    .bind(expected + 1)
    .bind(columns.status)
    .bind(columns.strategy)
    .bind(columns.holds_user)
    .bind(columns.holds_slot)
    .bind(&columns.body)
    .bind(now)
    .bind(record.saga_id.to_string())
    .bind(expected)
    .execute(&mut **tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Conflict(record.saga_id));
    }
    Ok(())
}

pub(super) async fn insert_outbox(
    tx: &mut Tx,
    saga_id: &str,
    trace_context: &std::collections::BTreeMap<String, String>,
    outbox: &[OutboxMessage],
    now: i64,
) -> Result<(), StoreError> {
    let trace = serde_json::to_string(trace_context).unwrap_or_else(|_| "{}".into());
    for message in outbox {
        let purpose = message
            .purpose
            .map(|p| serde_json::to_string(&p))
            .transpose()
            .map_err(|source| StoreError::Corrupt {
                what: "purpose",
                source,
            })?;
        sqlx::query(
            "INSERT INTO outbox (message_id, saga_id, purpose, exchange, routing_key, \
             message_type, body, trace_context, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&message.message_id)
        .bind(saga_id)
        .bind(purpose)
        .bind(&message.exchange)
        .bind(&message.routing_key)
        .bind(&message.message_type)
        .bind(&message.body)
        .bind(&trace)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Timers keyed by saga, content and due time: the same timer set twice is one row, while a
/// later rung's timer of the same content (its own Verify's deadline, say) is a timer of its
/// own, neither swallowed by the earlier one's row nor taken for its redelivery in the inbox.
async fn insert_timers(
    tx: &mut Tx,
    id: &str,
    timers: &[(OffsetDateTime, Timer)],
) -> Result<(), StoreError> {
    for (at, timer) in timers {
        let json = serde_json::to_string(timer).map_err(|source| StoreError::Corrupt {
            what: "timer",
            source,
        })?;
        sqlx::query(
            "INSERT INTO timers (timer_id, saga_id, due_at, timer) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (timer_id) DO NOTHING",
        )
        .bind(format!("{id}/{json}@{}", millis(*at)))
        .bind(id)
        .bind(millis(*at))
        .bind(&json)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// All of a commit's log entries in one statement.
async fn append_log(tx: &mut Tx, id: &str, log: &[LogEntry]) -> Result<(), StoreError> {
    if log.is_empty() {
        return Ok(());
    }
    let rows = numbered(1, log.len(), |n| {
        let first = 4 * n - 3;
        format!("(${first}, ${}, ${}, ${})", first + 1, first + 2, first + 3)
    });
    let sql = format!("INSERT INTO saga_log (saga_id, at, kind, detail) VALUES {rows}");
    // Only placeholders are interpolated.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for entry in log {
        query = query
            .bind(id.to_owned())
            .bind(millis(entry.at))
            .bind(entry.kind.clone())
            .bind(entry.detail.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}
