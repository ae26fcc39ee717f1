//! Admission's queries: the store-wide lock a pass holds, and who may be admitted now.

use std::future::Future;

use detour_contracts::SagaId;
use sqlx::Row;

use super::{Backend, Store, StoreError, saga_id};
use crate::saga::Budgets;

impl Store {
    /// Holds the store-wide admission lock while `pass` runs, so replicas sharing a
    /// PostgreSQL store never count free slots at the same time (SQLite has one process).
    pub async fn admitting<T, F>(&self, pass: F) -> Result<T, StoreError>
    where
        F: Future<Output = T>,
    {
        if self.backend == Backend::Sqlite {
            return Ok(pass.await);
        }
        // A transaction's lock: if the pass is cancelled, the rollback releases it.
        let mut lock = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(7468378)")
            .execute(&mut *lock)
            .await?;
        let result = pass.await;
        lock.commit().await?;
        Ok(result)
    }

    /// Who may be admitted now, oldest first: requested remediations while diagnosis slots
    /// are free, every queued remediation that needs no descope slot, and as many round trips
    /// as there are free descope slots. Costs what it admits, not the length of the lines.
    /// Each comes with the line it leaves (`requested` or `queued`) and the version it is at:
    /// a remediation may join the queue again (falling back to another rung), and each time
    /// is a new admission.
    pub async fn admissible(
        &self,
        budgets: Budgets,
    ) -> Result<Vec<(SagaId, String, i64)>, StoreError> {
        let round_trip = format!("{:?}", crate::saga::Strategy::RoundTrip);
        let free = |max: usize, taken: i64| {
            let free = max.saturating_sub(usize::try_from(taken).unwrap_or(usize::MAX));
            i64::try_from(free).unwrap_or(i64::MAX)
        };
        let holding = self
            .count("SELECT COUNT(*) AS n FROM sagas WHERE holds_slot = 1")
            .await?;
        let diagnosing = self
            .count("SELECT COUNT(*) AS n FROM sagas WHERE status = 'diagnosing'")
            .await?;
        let mut rows = sqlx::query(
            "SELECT saga_id, status, created_at, version FROM sagas WHERE status = 'queued' AND strategy <> $1 \
             ORDER BY created_at, saga_id",
        )
        .bind(&round_trip)
        .fetch_all(&self.pool)
        .await?;
        let free_slots = free(budgets.max_descoped, holding);
        if free_slots > 0 {
            rows.extend(
                sqlx::query(
                    "SELECT saga_id, status, created_at, version FROM sagas \
                     WHERE status = 'queued' AND strategy = $1 \
                     ORDER BY created_at, saga_id LIMIT $2",
                )
                .bind(&round_trip)
                .bind(free_slots)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        let free_readers = free(budgets.max_diagnosing, diagnosing);
        if free_readers > 0 {
            rows.extend(
                sqlx::query(
                    "SELECT saga_id, status, created_at, version FROM sagas WHERE status = 'requested' \
                     ORDER BY created_at, saga_id LIMIT $1",
                )
                .bind(free_readers)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        let mut line = rows
            .iter()
            .map(|row| {
                let created_at: i64 = row.try_get("created_at")?;
                Ok((
                    created_at,
                    saga_id(row)?,
                    row.try_get("status")?,
                    row.try_get("version")?,
                ))
            })
            .collect::<Result<Vec<(i64, SagaId, String, i64)>, StoreError>>()?;
        line.sort();
        Ok(line
            .into_iter()
            .map(|(_, id, line, version)| (id, line, version))
            .collect())
    }

    async fn count(&self, query: &'static str) -> Result<i64, StoreError> {
        Ok(sqlx::query(query)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }
}
