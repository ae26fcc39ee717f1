//! One PostgreSQL database per test, created on the stack's server and dropped (with any
//! connections still open to it) when the test ends; plus a SQLite file in a temporary
//! directory, so a store suite can run the same tests against both backends.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, Executor, postgres::PgConnection};

use crate::Stack;

#[derive(Debug)]
pub struct TestDatabase {
    /// `postgres://.../<name>`, ready for a pool.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates `detour_test_<prefix>_<uuid>` on the stack's PostgreSQL.
    pub async fn create(prefix: &str) -> anyhow::Result<Self> {
        let admin_url = Stack::load()?.get("DETOUR_POSTGRES_URL")?.to_owned();
        let name = format!(
            "detour_test_{}_{}",
            prefix.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            uuid::Uuid::new_v4().simple()
        );
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("cannot reach PostgreSQL at {admin_url}"))?;
        admin
            // The name is ours: letters, digits and underscores only.
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        let _ = admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Self {
            url: format!("{base}/{name}"),
            name,
            admin_url,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await: a thread with its own small runtime works inside a runtime too.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
    }
}

/// A SQLite database file in its own temporary directory, removed on drop.
#[derive(Debug)]
pub struct TestSqlite {
    pub url: String,
    directory: std::path::PathBuf,
}

impl TestSqlite {
    pub fn create(prefix: &str) -> anyhow::Result<Self> {
        let directory =
            std::env::temp_dir().join(format!("detour-{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&directory)
            .with_context(|| format!("cannot create {}", directory.display()))?;
        Ok(Self {
            url: format!("sqlite://{}/coordinator.db", directory.display()),
            directory,
        })
    }
}

impl Drop for TestSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}
