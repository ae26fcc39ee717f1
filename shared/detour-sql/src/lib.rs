//! Opening a service's database by URL: a SQLite file (the default for one instance, its
//! directory created) or PostgreSQL (shared by replicas). Both through sqlx's `Any` driver, so
//! a service writes its queries once, in the dialect both accept.

use std::{str::FromStr, time::Duration};

use sqlx::{
    AnyPool,
    any::{AnyConnectOptions, AnyPoolOptions},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the database URL {0:?} is neither sqlite:// nor postgres://")]
    UnsupportedUrl(String),
    #[error("cannot create the data directory {path}: {source}")]
    DataDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The pool for `url`, and which backend it is.
pub async fn open(url: &str) -> Result<(Backend, AnyPool), OpenError> {
    sqlx::any::install_default_drivers();
    if url.starts_with("sqlite:") {
        create_parent_directory(url)?;
        // One connection: SQLite has one writer anyway, and a single connection never meets
        // "database is locked" on a lock upgrade.
        let url = if url.contains('?') {
            url.to_owned()
        } else {
            format!("{url}?mode=rwc")
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|connection, _| {
                Box::pin(async move {
                    // WAL survives a killed process; NORMAL syncs at checkpoints.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = NORMAL",
                        "PRAGMA busy_timeout = 5000",
                    ] {
                        sqlx::query(pragma).execute(&mut *connection).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok((Backend::Sqlite, pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let pool = AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok((Backend::Postgres, pool))
    } else {
        Err(OpenError::UnsupportedUrl(url.to_owned()))
    }
}

fn create_parent_directory(url: &str) -> Result<(), OpenError> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|source| OpenError::DataDirectory {
                path: parent.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}
