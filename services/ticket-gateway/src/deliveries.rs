//! The webhook deliveries the gateway has taken, by the source's delivery id (Jira's
//! `X-Atlassian-Webhook-Identifier`), kept in a database for `webhook.replay_window_s`: a
//! SQLite file for one gateway, PostgreSQL shared by replicas. A redelivery is dropped after a
//! restart and by whichever replica it reaches; a delivery older than the window is refused
//! before it gets here, so nothing older needs remembering.

use detour_sql::Backend;
use sqlx::AnyPool;
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone)]
pub struct Deliveries {
    pool: AnyPool,
    window: Duration,
}

impl Deliveries {
    pub async fn open(url: &str, window: Duration) -> Result<Self, detour_sql::OpenError> {
        let (backend, pool) = detour_sql::open(url).await?;
        let mut tx = pool.begin().await?;
        if backend == Backend::Postgres {
            // Replicas starting together must not race on CREATE ... IF NOT EXISTS.
            sqlx::query("SELECT pg_advisory_xact_lock(7468379)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS webhook_deliveries (\
             delivery_id TEXT PRIMARY KEY, received_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_by_age \
             ON webhook_deliveries (received_at)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Self { pool, window })
    }

    /// Records `id` as taken at `now`; false if it was taken before (within the window).
    pub async fn first_time(&self, id: &str, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind((now - self.window).unix_timestamp())
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (delivery_id, received_at) VALUES ($1, $2) \
             ON CONFLICT (delivery_id) DO NOTHING",
        )
        .bind(id)
        .bind(now.unix_timestamp())
        .execute(&self.pool)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Forgets `id`: it was not taken after all, so the source's retry must get through.
    pub async fn forget(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE delivery_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use detour_testkit::{TestDatabase, TestSqlite};

    use super::*;

    async fn taken_once_across_restarts_and_replicas(url: &str) {
        let window = Duration::hours(24);
        let now = OffsetDateTime::now_utc();
        let first = Deliveries::open(url, window).await.unwrap();
        let replica = Deliveries::open(url, window).await.unwrap();
        assert!(first.first_time("d-1", now).await.unwrap());
        assert!(
            !replica.first_time("d-1", now).await.unwrap(),
            "another replica"
        );
        drop(first);
        let restarted = Deliveries::open(url, window).await.unwrap();
        assert!(
            !restarted.first_time("d-1", now).await.unwrap(),
            "after a restart"
        );
        restarted.forget("d-1").await.unwrap();
        assert!(restarted.first_time("d-1", now).await.unwrap(), "forgotten");
        // Past the window an id is pruned (its delivery would be refused as too old anyway).
        let later = now + window + Duration::seconds(1);
        assert!(restarted.first_time("d-1", later).await.unwrap());
    }

    #[tokio::test]
    async fn on_sqlite() {
        let db = TestSqlite::create("deliveries").unwrap();
        taken_once_across_restarts_and_replicas(&db.url).await;
    }

    #[tokio::test]
    async fn on_postgres() {
        let db = TestDatabase::create("deliveries").await.unwrap();
        taken_once_across_restarts_and_replicas(&db.url).await;
    }
}
