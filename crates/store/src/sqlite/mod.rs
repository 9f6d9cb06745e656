//! The SQLite backend: the default store, one file, WAL, one writer.
//!
//! Writes go through one connection (SQLite has one writer anyway) in one transaction per
//! batch; reads use a few connections of their own, which WAL lets run beside the writer
//! and beside each other. Commits are `synchronous = FULL`: a batch the hub acknowledges
//! to meters survives a power cut, not just a crash of the hub. rusqlite is blocking, so
//! every call runs on tokio's blocking pool.

mod accounts;
mod alerting;
mod billing;
mod compact;
mod intervals;
mod read;
mod schema;
mod write;

use super::{
    AuditEntry, Batch, BatchOutcome, CommandRecord, CommandStatus, CompactionOutcome, DeadLetter,
    Gap, IntervalRegisters, MeterFilter, MeterRecord, NewMeter, Resolution, SeriesPoint,
    SessionRecord, Store, StoreError, UserRecord,
};
use async_trait::async_trait;
use joule_protocol::{Action, EventMessage, IntervalRecord, LiveReading, MeterId, Registers};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// The SQLite store. Cheap to clone: clones share the connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Connections>,
}

/// Reader connections: readers run side by side (each on its own connection, which WAL
/// lets run beside the writer), so an API request is not queued behind a long read and a
/// billing run reads several meters at once.
const READERS: usize = 4;

/// The writer and the reader connections.
#[derive(Debug)]
struct Connections {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    /// Where the next reader is looked for first, so waits spread over the connections.
    next_reader: std::sync::atomic::AtomicUsize,
}

impl Connections {
    fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }

    /// A free reader connection, or, when all are busy, the next one in turn.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let first = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for offset in 0..self.readers.len() {
            let reader = &self.readers[(first + offset) % self.readers.len()];
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[first % self.readers.len()])
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves the connection usable: SQLite rolls back the
    // open transaction when it is dropped.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Database(error.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open_connection(path)?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            inner: Arc::new(Connections {
                writer: Mutex::new(writer),
                readers,
                next_reader: std::sync::atomic::AtomicUsize::new(0),
            }),
        })
    }

    /// Runs blocking database work on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connections) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|error| StoreError::Database(format!("store task: {error}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn add_meter(&self, meter: NewMeter, now_ms: i64) -> Result<(), StoreError> {
        self.blocking(move |db| accounts::add_meter(&db.writer(), &meter, now_ms))
            .await
    }

    async fn revoke_meter(&self, id: &MeterId) -> Result<(), StoreError> {
        let id = id.clone();
        self.blocking(move |db| accounts::revoke_meter(&db.writer(), &id))
            .await
    }

    async fn set_meter_owner(&self, id: &MeterId, owner: Option<&str>) -> Result<(), StoreError> {
        let (id, owner) = (id.clone(), owner.map(str::to_owned));
        self.blocking(move |db| accounts::set_meter_owner(&db.writer(), &id, owner.as_deref()))
            .await
    }

    async fn meters(&self, filter: &MeterFilter) -> Result<Vec<MeterRecord>, StoreError> {
        let filter = filter.clone();
        self.blocking(move |db| accounts::meters(&db.reader(), &filter, None))
            .await
    }

    async fn meter(&self, id: &MeterId) -> Result<Option<MeterRecord>, StoreError> {
        let id = id.clone();
        self.blocking(move |db| {
            Ok(
                accounts::meters(&db.reader(), &MeterFilter::default(), Some(&id))?
                    .into_iter()
                    .next(),
            )
        })
        .await
    }

    async fn active_token_hash(&self, id: &MeterId) -> Result<Option<String>, StoreError> {
        let id = id.clone();
        self.blocking(move |db| accounts::active_token_hash(&db.reader(), &id))
            .await
    }

    async fn mosquitto_hashes(&self) -> Result<Vec<(MeterId, String)>, StoreError> {
        self.blocking(|db| accounts::mosquitto_hashes(&db.reader()))
            .await
    }

    async fn write_batch(&self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        let batch = batch.clone();
        self.blocking(move |db| write::write_batch(&mut db.writer(), &batch))
            .await
    }

    async fn contiguous_seq(&self, meter: &MeterId) -> Result<u64, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::contiguous_seq(&db.reader(), &meter))
            .await
    }

    async fn gaps(&self, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::gaps(&db.reader(), &meter))
            .await
    }

    async fn latest_registers(&self) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
        self.blocking(|db| read::latest_registers(&db.reader()))
            .await
    }

    async fn latest_reading(&self, meter: &MeterId) -> Result<Option<LiveReading>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::latest_reading(&db.reader(), &meter))
            .await
    }

    async fn readings(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<LiveReading>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::readings(&db.reader(), &meter, from_ms, to_ms))
            .await
    }

    async fn series(
        &self,
        meter: &MeterId,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::series(&db.reader(), &meter, resolution, from_ms, to_ms))
            .await
    }

    async fn intervals(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRecord>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::intervals(&db.reader(), &meter, from_ms, to_ms))
            .await
    }

    async fn interval_registers(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRegisters>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| read::interval_registers(&db.reader(), &meter, from_ms, to_ms))
            .await
    }

    async fn events(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventMessage>, StoreError> {
        let meter = meter.clone();
        self.blocking(move |db| {
            read::json_in_range(
                &db.reader(),
                "SELECT event FROM events WHERE meter_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
                 ORDER BY ts_ms, seq",
                &meter,
                from_ms,
                to_ms,
                "event",
            )
        })
        .await
    }

    async fn recent_events(
        &self,
        limit: usize,
    ) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
        self.blocking(move |db| read::recent_events(&db.reader(), limit))
            .await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.blocking(move |db| read::dead_letters(&db.reader(), limit))
            .await
    }

    async fn prune_live(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.blocking(move |db| write::prune_live(&mut db.writer(), before_ms))
            .await
    }

    async fn compact(&self, now_ms: i64) -> Result<CompactionOutcome, StoreError> {
        self.blocking(move |db| {
            let mut outcome = CompactionOutcome::default();
            for meter in compact::meters(&db.reader())? {
                outcome.add(compact::compact(&mut db.writer(), &meter, now_ms)?);
            }
            Ok(outcome)
        })
        .await
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        self.blocking(move |db| accounts::add_user(&db.writer(), &user))
            .await
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let username = username.to_owned();
        self.blocking(move |db| Ok(accounts::users(&db.reader(), Some(&username))?.pop()))
            .await
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.blocking(|db| accounts::users(&db.reader(), None))
            .await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        let (username, hash) = (username.to_owned(), password_hash.to_owned());
        self.blocking(move |db| accounts::set_password(&mut db.writer(), &username, &hash))
            .await
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.blocking(move |db| accounts::add_session(&db.writer(), &session))
            .await
    }

    async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.blocking(move |db| accounts::session(&db.reader(), &token_hash, now_ms))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.blocking(move |db| {
            db.writer().execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                rusqlite::params![token_hash],
            )?;
            Ok(())
        })
        .await
    }

    async fn add_api_token(
        &self,
        username: &str,
        token_hash: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (username, token_hash, name) =
            (username.to_owned(), token_hash.to_owned(), name.to_owned());
        self.blocking(move |db| {
            accounts::add_api_token(&db.writer(), &username, &token_hash, &name, now_ms)
        })
        .await
    }

    async fn api_token_user(&self, token_hash: &str) -> Result<Option<UserRecord>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.blocking(move |db| accounts::api_token_user(&db.reader(), &token_hash))
            .await
    }

    async fn add_command(
        &self,
        meter: &MeterId,
        action: &Action,
        created_by: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<CommandRecord, StoreError> {
        let (meter, action, created_by) = (meter.clone(), action.clone(), created_by.to_owned());
        self.blocking(move |db| {
            accounts::add_command(
                &db.writer(),
                &meter,
                &action,
                &created_by,
                now_ms,
                expires_ms,
            )
        })
        .await
    }

    async fn set_command_status(
        &self,
        id: u64,
        status: CommandStatus,
        detail: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let detail = detail.map(str::to_owned);
        self.blocking(move |db| {
            accounts::set_command_status(&db.writer(), id, None, status, detail.as_deref(), now_ms)
                .map(|_| ())
        })
        .await
    }

    async fn command(&self, id: u64) -> Result<Option<CommandRecord>, StoreError> {
        self.blocking(
            move |db| Ok(accounts::commands(&db.reader(), None, Some(id), None, 1)?.pop()),
        )
        .await
    }

    async fn commands(
        &self,
        meter: Option<&MeterId>,
        status: Option<CommandStatus>,
        limit: usize,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        let meter = meter.cloned();
        self.blocking(move |db| {
            accounts::commands(&db.reader(), meter.as_ref(), None, status, limit)
        })
        .await
    }

    async fn expire_commands(&self, now_ms: i64) -> Result<Vec<CommandRecord>, StoreError> {
        self.blocking(move |db| accounts::expire_commands(&mut db.writer(), now_ms))
            .await
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.blocking(move |db| accounts::audit(&db.writer(), &entry))
            .await
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.blocking(move |db| accounts::audit_log(&db.reader(), limit))
            .await
    }
}
