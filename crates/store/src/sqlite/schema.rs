//! The SQLite schema: its migrations in order, and applying those a database lacks.

use crate::StoreError;
use rusqlite::Connection;

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied.
const MIGRATIONS: [&str; 9] = [
    r#"
CREATE TABLE meters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    feeder TEXT,
    transformer TEXT,
    token_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE seqs (
    meter_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (meter_id, seq)
) WITHOUT ROWID;
CREATE TABLE progress (
    meter_id TEXT PRIMARY KEY,
    contiguous INTEGER NOT NULL,
    highest INTEGER NOT NULL,
    last_ms INTEGER NOT NULL
);
CREATE TABLE live (
    meter_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    voltage_v REAL NOT NULL,
    current_a REAL NOT NULL,
    p_w REAL NOT NULL,
    q_var REAL NOT NULL,
    s_va REAL NOT NULL,
    pf REAL NOT NULL,
    freq_hz REAL,
    import_mwh INTEGER NOT NULL,
    export_mwh INTEGER NOT NULL,
    reactive_mvarh TEXT NOT NULL,
    apparent_import_mvah INTEGER NOT NULL,
    apparent_export_mvah INTEGER NOT NULL,
    tariff INTEGER NOT NULL,
    relay TEXT NOT NULL,
    phases TEXT,
    PRIMARY KEY (meter_id, ts_ms, seq)
) WITHOUT ROWID;
CREATE TABLE intervals (
    meter_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    import_mwh INTEGER NOT NULL,
    export_mwh INTEGER NOT NULL,
    PRIMARY KEY (meter_id, ts_ms, seq)
) WITHOUT ROWID;
CREATE TABLE events (
    meter_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (meter_id, seq)
) WITHOUT ROWID;
CREATE INDEX events_by_time ON events (meter_id, ts_ms);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    topic TEXT NOT NULL,
    meter_id TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL
);
"#,
    r#"
ALTER TABLE meters ADD COLUMN mosquitto_hash TEXT;
"#,
    r#"
ALTER TABLE meters ADD COLUMN owner TEXT;
ALTER TABLE meters ADD COLUMN location TEXT;
ALTER TABLE meters ADD COLUMN tariff TEXT;
ALTER TABLE meters ADD COLUMN install_date TEXT;
ALTER TABLE meters ADD COLUMN online INTEGER;
ALTER TABLE meters ADD COLUMN status_ms INTEGER;
CREATE INDEX meters_by_owner ON meters (owner);
CREATE TABLE rollups (
    meter_id TEXT NOT NULL,
    width_ms INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    p_sum REAL NOT NULL,
    p_min REAL NOT NULL,
    p_max REAL NOT NULL,
    v_sum REAL NOT NULL,
    v_min REAL NOT NULL,
    v_max REAL NOT NULL,
    import_first INTEGER NOT NULL,
    import_last INTEGER NOT NULL,
    export_first INTEGER NOT NULL,
    export_last INTEGER NOT NULL,
    PRIMARY KEY (meter_id, width_ms, bucket_ms)
) WITHOUT ROWID;
CREATE TABLE users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter_id TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    detail TEXT
);
CREATE INDEX commands_by_meter ON commands (meter_id, id);
CREATE INDEX commands_open ON commands (status, expires_ms);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
"#,
    r#"
ALTER TABLE dead_letters ADD COLUMN seq INTEGER;
"#,
    r#"
CREATE INDEX events_recent ON events (ts_ms);
"#,
    // Alerts and automation (`crate::alerting`).
    r#"
CREATE TABLE alerting_documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX alerting_documents_by_kind ON alerting_documents (kind, owner);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL,
    owner TEXT NOT NULL,
    meter_id TEXT NOT NULL,
    condition TEXT NOT NULL,
    message TEXT NOT NULL,
    value REAL,
    state TEXT NOT NULL,
    opened_ms INTEGER NOT NULL,
    acknowledged_ms INTEGER,
    resolved_ms INTEGER,
    resolved_by TEXT
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (rule_id, meter_id, condition)
    WHERE state <> 'resolved';
CREATE INDEX alerts_by_owner ON alerts (owner, id);
CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel, attempt)
);
CREATE TABLE automation_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    reason TEXT NOT NULL,
    outcomes TEXT NOT NULL
);
CREATE INDEX automation_runs_by_rule ON automation_runs (rule_id, id);
"#,
    super::billing::MIGRATION,
    // Typed interval records and compacted blocks; converted in Rust (see below).
    super::compact::MIGRATION,
    super::compact::MINUTE_BLOCKS_MIGRATION,
];

/// The version whose migration converts JSON interval records to typed rows.
const TYPED_INTERVALS: usize = 8;

/// Applies the migrations not yet applied, each in its own transaction; refuses a
/// database a newer hub has migrated.
pub(super) fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if applied > MIGRATIONS.len() as i64 {
        return Err(StoreError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    let applied = usize::try_from(applied).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        if index + 1 == TYPED_INTERVALS {
            super::compact::convert_json_intervals(&transaction)?;
        }
        transaction.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )?;
        transaction.commit()?;
    }
    Ok(())
}
