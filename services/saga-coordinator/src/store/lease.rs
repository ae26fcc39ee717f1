//! The takeover lease's row: read with its version, written under the version check (with a
//! saga's change, or alone when the lease's own command is answered or tended), so sagas and
//! replicas that move it together cannot lose each other's holds.

use std::collections::BTreeMap;

use detour_contracts::SagaId;
use sqlx::Row;
use time::OffsetDateTime;

use super::{
    LeaseWrite, OutboxMessage, Store, StoreError,
    commit::{Tx, claim_inbox, insert_outbox},
    millis, parse,
};
use crate::saga::takeover::Lease;

const TAKEOVER: &str = "takeover-block";

impl Store {
    /// The lease and its version (0 when it was never written: closed).
    pub async fn lease(&self) -> Result<(Lease, i64), StoreError> {
        let row = sqlx::query("SELECT state, version FROM leases WHERE name = $1")
            .bind(TAKEOVER)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            None => Ok((Lease::default(), 0)),
            Some(row) => {
                let state: String = row.try_get("state")?;
                Ok((parse("takeover lease", &state)?, row.try_get("version")?))
            }
        }
    }

    /// The lease moved on its own (an answer to its command, or tending), with the commands it
    /// sends, recorded as `origin`'s. `false`: `inbox` was handled before, nothing written.
    pub async fn commit_lease(
        &self,
        inbox: Option<&str>,
        write: &LeaseWrite,
        origin: SagaId,
        outbox: &[OutboxMessage],
    ) -> Result<bool, StoreError> {
        let now = millis(OffsetDateTime::now_utc());
        let mut tx = self.pool.begin().await?;
        let origin = origin.to_string();
        if let Some(message_id) = inbox
            && !claim_inbox(&mut tx, message_id, &origin, now).await?
        {
            return Ok(false);
        }
        write_lease(&mut tx, write).await?;
        insert_outbox(&mut tx, &origin, &BTreeMap::new(), outbox, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The lease at its next version; a version that moved is a [`StoreError::LeaseConflict`].
pub(super) async fn write_lease(tx: &mut Tx, write: &LeaseWrite) -> Result<(), StoreError> {
    let state = serde_json::to_string(&write.lease).map_err(|source| StoreError::Corrupt {
        what: "takeover lease",
        source,
    })?;
    let next = write.expected_version + 1;
    let written = if write.expected_version == 0 {
        sqlx::query(
            "INSERT INTO leases (name, version, state) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(TAKEOVER)
        .bind(next)
        .bind(&state)
        .execute(&mut **tx)
        .await?
    } else {
        sqlx::query("UPDATE leases SET version = $1, state = $2 WHERE name = $3 AND version = $4")
            .bind(next)
            .bind(&state)
            .bind(TAKEOVER)
            .bind(write.expected_version)
            .execute(&mut **tx)
            .await?
    };
    if written.rows_affected() == 0 {
        return Err(StoreError::LeaseConflict);
    }
    Ok(())
}
