//! The PostgreSQL schema: its migrations in order (the `live` table's form chosen when it is
//! made), and applying those a database lacks under the advisory lock.

use super::LOCK_KEY;
use crate::StoreError;
use tokio_postgres::{Client, Transaction};

/// The schema, one migration per entry; `schema_migrations` records those applied.
const MIGRATIONS: [Migration; 9] = [
    Migration::Sql(SCHEMA),
    Migration::LiveTable,
    Migration::Sql("ALTER TABLE dead_letters ADD COLUMN seq BIGINT"),
    Migration::Sql("CREATE INDEX events_recent ON events (ts_ms)"),
    Migration::Sql(ALERTING),
    Migration::Sql(super::billing::MIGRATION),
    Migration::TypedIntervals,
    Migration::Sql(super::partitions::MIGRATION),
    Migration::Sql(crate::compact::DROP_MINUTE_BLOCKS),
];

/// Alerts and automation (`crate::alerting`).
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
    /// Typed interval records and compacted blocks, the old JSON rows converted in Rust.
    TypedIntervals,
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
/// range-partitioned (by day, see `partitions`). The hypertable is tried in a savepoint because an available
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
                    "TimescaleDB is installed but unusable; partitioning live by day instead"
                );
                attempt.rollback().await?;
            }
        }
    }
    transaction.batch_execute(&live_table_sql(false)).await?;
    Ok(())
}

/// Applies the migrations not yet recorded, each in a transaction, under the advisory lock.
/// On an error the client is dropped, which closes the session and releases the lock.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
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
            Migration::TypedIntervals => {
                transaction.batch_execute(super::compact::MIGRATION).await?;
                super::compact::convert_json_intervals(&transaction).await?;
            }
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
