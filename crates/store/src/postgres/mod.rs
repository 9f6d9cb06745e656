//! The PostgreSQL backend: the store for fleets too big for one SQLite file.
//!
//! It behaves exactly like the SQLite backend (one suite checks both), so the hub does not
//! care which it runs on. Two connections: the writer, behind an async mutex because a
//! batch is one transaction on it, and the reader, which PostgreSQL's MVCC lets run beside
//! the writer without ever waiting for it. Every integer is `bigint` and JSON columns are
//! `text`, as in SQLite, so both backends store the same values.
//!
//! Migrations run at start-up under an advisory lock, each in its own transaction, so two
//! hubs starting at once against one database cannot both apply one. The `live` table is
//! range-partitioned by month on `ts_ms` (partitions made on demand by the writer, a
//! default partition so no row is ever refused); when the TimescaleDB extension is
//! available and loads, `live` is a hypertable instead.

mod accounts;
mod alerting;
mod billing;
mod partitions;
mod read;
mod write;

use super::{
    AuditEntry, Batch, BatchOutcome, CommandRecord, CommandStatus, DeadLetter, Gap, MeterFilter,
    MeterRecord, NewMeter, Resolution, SeriesPoint, SessionRecord, Store, StoreError, UserRecord,
};
use async_trait::async_trait;
use joule_protocol::{Action, EventMessage, IntervalRecord, LiveReading, MeterId, Registers};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls, Transaction};

/// The key of the advisory lock that serialises migrations and partition creation between
/// hubs sharing a database ("joule" in ASCII).
const LOCK_KEY: i64 = 0x006a_6f75_6c65;

/// The schema, one migration per entry; `schema_migrations` records those applied.
const MIGRATIONS: [Migration; 6] = [
    Migration::Sql(SCHEMA),
    Migration::LiveTable,
    Migration::Sql("ALTER TABLE dead_letters ADD COLUMN seq BIGINT"),
    Migration::Sql("CREATE INDEX events_recent ON events (ts_ms)"),
    Migration::Sql(ALERTING),
    Migration::Sql(billing::MIGRATION),
];

/// Alerts and automation (crates/hub/src/store/alerting.rs).
const ALERTING: &str = r#"
CREATE TABLE alerting_documents (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX alerting_documents_by_kind ON alerting_documents (kind, owner);
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    rule_id BIGINT NOT NULL,
    owner TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    condition TEXT NOT NULL,
    message TEXT NOT NULL,
    value DOUBLE PRECISION,
    state TEXT NOT NULL,
    opened_ms BIGINT NOT NULL,
    acknowledged_ms BIGINT,
    resolved_ms BIGINT,
    resolved_by TEXT
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (rule_id, meter_id, condition)
    WHERE state <> 'resolved';
CREATE INDEX alerts_by_owner ON alerts (owner, id);
CREATE TABLE alert_deliveries (
    alert_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    ok BOOLEAN NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel, attempt)
);
CREATE TABLE automation_runs (
    id BIGSERIAL PRIMARY KEY,
    rule_id BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    reason TEXT NOT NULL,
    outcomes TEXT NOT NULL
);
CREATE INDEX automation_runs_by_rule ON automation_runs (rule_id, id);
"#;

/// One step of the schema.
#[derive(Debug, Clone, Copy)]
enum Migration {
    /// Plain SQL.
    Sql(&'static str),
    /// The `live` table, whose form depends on whether TimescaleDB can be used.
    LiveTable,
}

/// Everything but `live`, as the SQLite backend has it after all its migrations.
const SCHEMA: &str = r#"
CREATE TABLE meters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner TEXT,
    location TEXT,
    feeder TEXT,
    transformer TEXT,
    tariff TEXT,
    install_date TEXT,
    token_hash TEXT NOT NULL,
    mosquitto_hash TEXT,
    created_ms BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT FALSE,
    online BOOLEAN,
    status_ms BIGINT
);
CREATE INDEX meters_by_owner ON meters (owner);
CREATE TABLE seqs (
    meter_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (meter_id, seq)
);
CREATE TABLE progress (
    meter_id TEXT PRIMARY KEY,
    contiguous BIGINT NOT NULL,
    highest BIGINT NOT NULL,
    last_ms BIGINT NOT NULL
);
CREATE TABLE intervals (
    meter_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    record TEXT NOT NULL,
    import_mwh BIGINT NOT NULL,
    export_mwh BIGINT NOT NULL,
    PRIMARY KEY (meter_id, ts_ms, seq)
);
CREATE TABLE events (
    meter_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (meter_id, seq)
);
CREATE INDEX events_by_time ON events (meter_id, ts_ms);
CREATE TABLE dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_ms BIGINT NOT NULL,
    topic TEXT NOT NULL,
    meter_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BYTEA NOT NULL
);
CREATE TABLE rollups (
    meter_id TEXT NOT NULL,
    width_ms BIGINT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    p_sum DOUBLE PRECISION NOT NULL,
    p_min DOUBLE PRECISION NOT NULL,
    p_max DOUBLE PRECISION NOT NULL,
    v_sum DOUBLE PRECISION NOT NULL,
    v_min DOUBLE PRECISION NOT NULL,
    v_max DOUBLE PRECISION NOT NULL,
    import_first BIGINT NOT NULL,
    import_last BIGINT NOT NULL,
    export_first BIGINT NOT NULL,
    export_last BIGINT NOT NULL,
    PRIMARY KEY (meter_id, width_ms, bucket_ms)
);
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE commands (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    detail TEXT
);
CREATE INDEX commands_by_meter ON commands (meter_id, id);
CREATE INDEX commands_open ON commands (status, expires_ms);
CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#;

/// The columns of `live`; the primary key holds `ts_ms` because both range partitions and
/// hypertable chunks need the partitioning column in every unique key.
const LIVE_COLUMNS: &str = "
    meter_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    voltage_v DOUBLE PRECISION NOT NULL,
    current_a DOUBLE PRECISION NOT NULL,
    p_w DOUBLE PRECISION NOT NULL,
    q_var DOUBLE PRECISION NOT NULL,
    s_va DOUBLE PRECISION NOT NULL,
    pf DOUBLE PRECISION NOT NULL,
    freq_hz DOUBLE PRECISION,
    import_mwh BIGINT NOT NULL,
    export_mwh BIGINT NOT NULL,
    reactive_mvarh TEXT NOT NULL,
    apparent_import_mvah BIGINT NOT NULL,
    apparent_export_mvah BIGINT NOT NULL,
    tariff SMALLINT NOT NULL,
    relay TEXT NOT NULL,
    phases TEXT,
    PRIMARY KEY (meter_id, ts_ms, seq)";

/// The `live` table for TimescaleDB or plain PostgreSQL.
fn live_table_sql(timescale: bool) -> String {
    if timescale {
        // Not exercised by the tests (Debian's PostgreSQL has no TimescaleDB). Chunks of
        // one week of `ts_ms` (ms); pruning stays a DELETE, which works on hypertables.
        format!(
            "CREATE EXTENSION IF NOT EXISTS timescaledb;
             CREATE TABLE live ({LIVE_COLUMNS});
             SELECT create_hypertable('live', 'ts_ms', chunk_time_interval => 604800000::bigint);"
        )
    } else {
        format!(
            "CREATE TABLE live ({LIVE_COLUMNS}) PARTITION BY RANGE (ts_ms);
             CREATE TABLE live_default PARTITION OF live DEFAULT;"
        )
    }
}

/// Creates `live`: a hypertable when TimescaleDB is available and can be used, else a table
/// partitioned by month. The hypertable is tried in a savepoint because an available
/// extension may still fail to load (it must be in `shared_preload_libraries`, which a
/// plain role cannot even read) or to be created (privileges); the hub must start anyway.
async fn create_live(transaction: &mut Transaction<'_>) -> Result<(), StoreError> {
    let available: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
            &[],
        )
        .await?
        .try_get(0)?;
    if available {
        let attempt = transaction.savepoint("timescale").await?;
        match attempt.batch_execute(&live_table_sql(true)).await {
            Ok(()) => {
                attempt.commit().await?;
                tracing::info!("live is a TimescaleDB hypertable");
                return Ok(());
            }
            Err(error) => {
                tracing::warn!(
                    error = %StoreError::from(error),
                    "TimescaleDB is installed but unusable; partitioning live by month instead"
                );
                attempt.rollback().await?;
            }
        }
    }
    transaction.batch_execute(&live_table_sql(false)).await?;
    Ok(())
}

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PostgresStore {
    /// The one connection that writes, with what it knows about partitions.
    writer: Mutex<write::Writer>,
    /// The connection every read uses; `tokio-postgres` pipelines concurrent queries on it.
    reader: Client,
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

/// Applies the migrations not yet recorded, each in a transaction, under the advisory lock.
/// On an error the client is dropped, which closes the session and releases the lock.
async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let applied: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    if applied > MIGRATIONS.len() as i64 {
        return Err(StoreError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (version, migration) in (1i64..).zip(MIGRATIONS) {
        if version <= applied {
            continue;
        }
        let mut transaction = client.transaction().await?;
        match migration {
            Migration::Sql(sql) => transaction.batch_execute(sql).await?,
            Migration::LiveTable => create_live(&mut transaction).await?,
        }
        transaction
            .execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        transaction.commit().await?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await?;
    Ok(())
}

impl PostgresStore {
    /// Connects to the database `conninfo` names (`host=… dbname=…` or `postgresql://…`)
    /// and applies pending migrations.
    pub async fn connect(conninfo: &str) -> Result<Self, StoreError> {
        let mut writer = open_connection(conninfo).await?;
        migrate(&mut writer).await?;
        let writer = write::Writer::new(writer).await?;
        let reader = open_connection(conninfo).await?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader,
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
        read::json_in_range(
            &self.reader,
            "SELECT record FROM intervals WHERE meter_id = $1 AND ts_ms >= $2 AND ts_ms < $3
             ORDER BY ts_ms, seq",
            meter,
            from_ms,
            to_ms,
            "interval record",
        )
        .await
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
