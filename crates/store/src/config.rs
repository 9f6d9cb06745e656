//! `[storage]`: which database the hub keeps its data in, and opening it.
//!
//! It lives with the store rather than the hub so that the command-line verbs that only
//! provision the registry (`joule meters add`, `joule users add`, `joule tariffs add`) can
//! open the hub's database from the hub's own configuration file without the hub.

use crate::{PostgresStore, SqliteStore, Store, StoreError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Path of the SQLite database (created if missing); used unless `postgres` is set.
    pub sqlite: PathBuf,
    /// A PostgreSQL connection string (`host=… port=… user=… dbname=…` or
    /// `postgresql://…`); when set, the hub stores there instead of SQLite.
    pub postgres: Option<String>,
    /// Live readings older than this are deleted (rollups, interval records and events
    /// are kept), days.
    pub live_retention_days: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            sqlite: PathBuf::from("joule-data/hub.sqlite"),
            postgres: None,
            live_retention_days: 30,
        }
    }
}

/// The environment variables that override `[storage]` keys: (variable, dotted key).
pub const STORAGE_OVERRIDES: [joule_config::Override; 2] = [
    ("JOULE_HUB_STORAGE_POSTGRES", "storage.postgres"),
    ("JOULE_HUB_STORAGE_SQLITE", "storage.sqlite"),
];

/// Only the `[storage]` table of a hub configuration file; the hub checks the rest.
#[derive(Debug, Default, Deserialize)]
struct StorageSection {
    #[serde(default)]
    storage: StorageConfig,
}

/// Why the store named by a configuration could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The SQLite database's directory could not be made.
    #[error("creating {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The SQLite database could not be opened or migrated.
    #[error("opening {}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// PostgreSQL could not be reached or migrated. The connection string may hold a
    /// password, so the error names the setting instead.
    #[error("connecting to the PostgreSQL database that storage.postgres names: {0}")]
    Postgres(StoreError),
}

impl StorageConfig {
    /// The `[storage]` table of the hub configuration at `path` (defaults without one),
    /// with its environment overrides, validated. The file's other tables are the hub's.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, joule_config::ConfigError> {
        let (section, origin): (StorageSection, _) =
            joule_config::load(path, &STORAGE_OVERRIDES, env)?;
        section.storage.validate(&origin)?;
        Ok(section.storage)
    }

    /// Checks the values, naming the key and where it came from.
    pub fn validate(&self, origin: &joule_config::Origin) -> Result<(), joule_config::ConfigError> {
        if self.live_retention_days == 0 {
            return Err(origin.invalid("storage.live_retention_days", "must be at least 1"));
        }
        Ok(())
    }

    /// Opens the store: PostgreSQL when `postgres` is set, else SQLite (creating its
    /// directory).
    pub async fn open(&self) -> Result<Arc<dyn Store>, OpenError> {
        if let Some(conninfo) = &self.postgres {
            let store = PostgresStore::connect(conninfo)
                .await
                .map_err(OpenError::Postgres)?;
            return Ok(Arc::new(store));
        }
        if let Some(parent) = self.sqlite.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| OpenError::Directory {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let store = SqliteStore::open(&self.sqlite).map_err(|source| OpenError::Sqlite {
            path: self.sqlite.clone(),
            source,
        })?;
        Ok(Arc::new(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_storage_table_with_overrides() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "[http]\nlisten = \"127.0.0.1:9\"\n[storage]\nsqlite = \"/tmp/a.sqlite\"\n",
        )
        .expect("write");
        let config = StorageConfig::load(Some(&path), |_| None).expect("config");
        assert_eq!(config.sqlite, PathBuf::from("/tmp/a.sqlite"));
        let env = |name: &str| {
            (name == "JOULE_HUB_STORAGE_POSTGRES").then(|| "host=/tmp dbname=joule".to_owned())
        };
        let config = StorageConfig::load(Some(&path), env).expect("config");
        assert_eq!(config.postgres.as_deref(), Some("host=/tmp dbname=joule"));
    }

    #[test]
    fn refuses_a_bad_key_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "[storage]\nlive_retention_days = 0\n").expect("write");
        let error = StorageConfig::load(Some(&path), |_| None).expect_err("refused");
        assert!(
            error.to_string().contains("storage.live_retention_days"),
            "{error}"
        );
        std::fs::write(&path, "[storage]\nsqlit = \"x\"\n").expect("write");
        let error = StorageConfig::load(Some(&path), |_| None).expect_err("refused");
        assert!(error.to_string().contains("sqlit"), "{error}");
    }
}
