//! The PostgreSQL backend: the store for fleets too big for one SQLite file.
//!
//! It behaves exactly like the SQLite backend (one suite checks both), so the hub does not
//! care which it runs on. Two connections: the writer, behind an async mutex because a
//! batch is one transaction on it, and the reader, which PostgreSQL's MVCC lets run beside
//! the writer without ever waiting for it. Every integer is `bigint` and JSON columns are
//! `text`, as in SQLite, so both backends store the same values.
//!
//! Migrations run at start-up under an advisory lock, each in its own transaction, so two
//! hubs starting at once against one database cannot both apply one. The tables of fresh
//! rows (`live`, `intervals`, `rollups`) are range-partitioned by UTC day (partitions made
//! on demand by the writer and dropped once compaction has emptied them, a default
//! partition so no row is ever refused; see `partitions`); when the TimescaleDB extension
//! is available and loads, `live` is a hypertable instead.

mod accounts;
mod alerting;
mod billing;
mod compact;
mod interval_rows;
mod partitions;
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
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// The key of the advisory lock that serialises migrations and partition creation between
/// hubs sharing a database ("joule" in ASCII).
const LOCK_KEY: i64 = 0x006a_6f75_6c65;

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PostgresStore {
    /// The one connection that writes, with what it knows about partitions.
    writer: Mutex<write::Writer>,
    /// The connection every read uses; `tokio-postgres` pipelines concurrent queries on it.
    reader: Client,
    /// Where the database is, for the vacuum after compaction on a connection of its own.
    conninfo: String,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        // The server's own message says what went wrong; the client error's Display only
        // says "db error".
        match error.as_db_error() {
            Some(db) => Self::Database(format!("{} ({})", db.message(), db.code().code())),
            // A client error keeps its cause (e.g. "Connection refused") in `source`.
            None => match std::error::Error::source(&error) {
                Some(cause) => Self::Database(format!("{error}: {cause}")),
                None => Self::Database(error.to_string()),
            },
        }
    }
}

/// Opens one connection and drives it on a task of its own.
async fn open_connection(conninfo: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(conninfo, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::error!(%error, "PostgreSQL connection failed");
        }
    });
    Ok(client)
}

impl PostgresStore {
    /// Connects to the database `conninfo` names (`host=… dbname=…` or `postgresql://…`)
    /// and applies pending migrations.
    pub async fn connect(conninfo: &str) -> Result<Self, StoreError> {
        let mut writer = open_connection(conninfo).await?;
        schema::migrate(&mut writer).await?;
        let writer = write::Writer::new(writer).await?;
        let reader = open_connection(conninfo).await?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader,
            conninfo: conninfo.to_owned(),
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn add_meter(&self, meter: NewMeter, now_ms: i64) -> Result<(), StoreError> {
        accounts::add_meter(self.writer.lock().await.client(), &meter, now_ms).await
    }

    async fn revoke_meter(&self, id: &MeterId) -> Result<(), StoreError> {
        accounts::revoke_meter(self.writer.lock().await.client(), id).await
    }

    async fn set_meter_owner(&self, id: &MeterId, owner: Option<&str>) -> Result<(), StoreError> {
        accounts::set_meter_owner(self.writer.lock().await.client(), id, owner).await
    }

    async fn meters(&self, filter: &MeterFilter) -> Result<Vec<MeterRecord>, StoreError> {
        accounts::meters(&self.reader, filter, None).await
    }

    async fn meter(&self, id: &MeterId) -> Result<Option<MeterRecord>, StoreError> {
        Ok(
            accounts::meters(&self.reader, &MeterFilter::default(), Some(id))
                .await?
                .into_iter()
                .next(),
        )
    }

    async fn active_token_hash(&self, id: &MeterId) -> Result<Option<String>, StoreError> {
        accounts::active_token_hash(&self.reader, id).await
    }

    async fn mosquitto_hashes(&self) -> Result<Vec<(MeterId, String)>, StoreError> {
        accounts::mosquitto_hashes(&self.reader).await
    }

    async fn write_batch(&self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        self.writer.lock().await.write_batch(batch).await
    }

    async fn contiguous_seq(&self, meter: &MeterId) -> Result<u64, StoreError> {
        read::contiguous_seq(&self.reader, meter).await
    }

    async fn gaps(&self, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
        read::gaps(&self.reader, meter).await
    }

    async fn latest_registers(&self) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
        read::latest_registers(&self.reader).await
    }

    async fn latest_reading(&self, meter: &MeterId) -> Result<Option<LiveReading>, StoreError> {
        read::latest_reading(&self.reader, meter).await
    }

    async fn readings(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<LiveReading>, StoreError> {
        read::readings(&self.reader, meter, from_ms, to_ms).await
    }

    async fn series(
        &self,
        meter: &MeterId,
        resolution: Resolution,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        read::series(&self.reader, meter, resolution, from_ms, to_ms).await
    }

    async fn intervals(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRecord>, StoreError> {
        read::intervals(&self.reader, meter, from_ms, to_ms).await
    }

    async fn interval_registers(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRegisters>, StoreError> {
        read::interval_registers(&self.reader, meter, from_ms, to_ms).await
    }

    async fn events(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventMessage>, StoreError> {
        read::json_in_range(
            &self.reader,
            "SELECT event FROM events WHERE meter_id = $1 AND ts_ms >= $2 AND ts_ms < $3
             ORDER BY ts_ms, seq",
            meter,
            from_ms,
            to_ms,
            "event",
        )
        .await
    }

    async fn recent_events(
        &self,
        limit: usize,
    ) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
        read::recent_events(&self.reader, limit).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        read::dead_letters(&self.reader, limit).await
    }

    async fn prune_live(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.writer.lock().await.prune_live(before_ms).await
    }

    async fn compact(&self, now_ms: i64) -> Result<CompactionOutcome, StoreError> {
        let mut outcome = CompactionOutcome::default();
        for meter in compact::meters(&self.reader).await? {
            let mut writer = self.writer.lock().await;
            outcome.add(compact::compact(writer.client_mut(), &meter, now_ms).await?);
        }
        self.writer
            .lock()
            .await
            .drop_compacted(crate::compact::day_start_ms(now_ms))
            .await?;
        // The pass leaves the sequence rows, every rewritten block and the hour's live
        // readings and minute buckets dead in place (today's partitions stay until
        // tomorrow); vacuumed now, their space serves the next hour's rows instead of
        // growing the files until autovacuum comes by. VACUUM lets ingest and readers go
        // on, and gets a connection of its own so that neither waits for it. A pass that
        // moved nothing left little dead (sequence rows of a quiet hour: autovacuum's).
        if outcome.rows > 0 {
            open_connection(&self.conninfo)
                .await?
                .batch_execute("VACUUM seqs, blocks, live, rollups")
                .await?;
        }
        Ok(outcome)
    }

    async fn add_user(&self, user: UserRecord) -> Result<(), StoreError> {
        accounts::add_user(self.writer.lock().await.client(), &user).await
    }

    async fn user(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(accounts::users(&self.reader, Some(username)).await?.pop())
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        accounts::users(&self.reader, None).await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().await;
        accounts::set_password(writer.client_mut(), username, password_hash).await
    }

    async fn add_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        accounts::add_session(self.writer.lock().await.client(), &session).await
    }

    async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
        accounts::session(&self.reader, token_hash, now_ms).await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.writer
            .lock()
            .await
            .client()
            .execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])
            .await?;
        Ok(())
    }

    async fn add_api_token(
        &self,
        username: &str,
        token_hash: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let writer = self.writer.lock().await;
        accounts::add_api_token(writer.client(), username, token_hash, name, now_ms).await
    }

    async fn api_token_user(&self, token_hash: &str) -> Result<Option<UserRecord>, StoreError> {
        accounts::api_token_user(&self.reader, token_hash).await
    }

    async fn add_command(
        &self,
        meter: &MeterId,
        action: &Action,
        created_by: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<CommandRecord, StoreError> {
        let writer = self.writer.lock().await;
        accounts::add_command(
            writer.client(),
            meter,
            action,
            created_by,
            now_ms,
            expires_ms,
        )
        .await
    }

    async fn set_command_status(
        &self,
        id: u64,
        status: CommandStatus,
        detail: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let writer = self.writer.lock().await;
        accounts::set_command_status(writer.client(), id, None, status, detail, now_ms)
            .await
            .map(|_| ())
    }

    async fn command(&self, id: u64) -> Result<Option<CommandRecord>, StoreError> {
        Ok(accounts::commands(&self.reader, None, Some(id), None, 1)
            .await?
            .pop())
    }

    async fn commands(
        &self,
        meter: Option<&MeterId>,
        status: Option<CommandStatus>,
        limit: usize,
    ) -> Result<Vec<CommandRecord>, StoreError> {
        accounts::commands(&self.reader, meter, None, status, limit).await
    }

    async fn expire_commands(&self, now_ms: i64) -> Result<Vec<CommandRecord>, StoreError> {
        accounts::expire_commands(self.writer.lock().await.client(), now_ms).await
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        accounts::audit(self.writer.lock().await.client(), &entry).await
    }

    async fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        accounts::audit_log(&self.reader, limit).await
    }
}
