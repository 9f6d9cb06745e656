//! The SQLite backend: the default store, one file, WAL, one writer.
//!
//! Writes go through one connection (SQLite has one writer anyway) in one transaction per
//! batch; reads use a second connection, which WAL lets run beside the writer. Commits are
//! `synchronous = FULL`: a batch the hub acknowledges to meters survives a power cut, not
//! just a crash of the hub.

use super::{Batch, BatchOutcome, DeadLetter, Gap, MeterRecord, NewMeter, StoreError, Stored};
use joule_protocol::{
    EventMessage, IntervalRecord, LiveReading, MeterId, PhaseReading, Registers, RelayState,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied.
const MIGRATIONS: [&str; 2] = [
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
];

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
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

fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |error| StoreError::Corrupt {
        what,
        detail: error.to_string(),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut writer = open_connection(path)?;
        migrate(&mut writer)?;
        let reader = open_connection(path)?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Registers a meter.
    pub fn add_meter(&self, meter: &NewMeter, now_ms: i64) -> Result<(), StoreError> {
        let writer = lock(&self.writer);
        let inserted = writer.execute(
            "INSERT OR IGNORE INTO meters
             (id, name, feeder, transformer, token_hash, created_ms, mosquitto_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                meter.id.as_str(),
                meter.name,
                meter.feeder,
                meter.transformer,
                meter.token_hash,
                now_ms,
                meter.mosquitto_hash
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::MeterExists(meter.id.to_string()));
        }
        Ok(())
    }

    /// Revokes a meter's token: it can no longer authenticate.
    pub fn revoke_meter(&self, id: &MeterId) -> Result<(), StoreError> {
        let writer = lock(&self.writer);
        let changed = writer.execute(
            "UPDATE meters SET revoked = 1 WHERE id = ?1",
            params![id.as_str()],
        )?;
        if changed == 0 {
            return Err(StoreError::NoMeter(id.to_string()));
        }
        Ok(())
    }

    /// The Mosquitto password hashes of the meters that may connect, by id (meters added
    /// before these were kept have none and are left out).
    pub fn mosquitto_hashes(&self) -> Result<Vec<(MeterId, String)>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare(
            "SELECT id, mosquitto_hash FROM meters
             WHERE revoked = 0 AND mosquitto_hash IS NOT NULL ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
        let mut hashes = Vec::new();
        for row in rows {
            let (id, hash) = row?;
            hashes.push((stored_meter_id(&id)?, hash));
        }
        Ok(hashes)
    }

    /// The token hash of a meter that may connect (not revoked).
    pub fn active_token_hash(&self, id: &str) -> Result<Option<String>, StoreError> {
        let reader = lock(&self.reader);
        Ok(reader
            .query_row(
                "SELECT token_hash FROM meters WHERE id = ?1 AND revoked = 0",
                params![id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Every meter, by id.
    pub fn meters(&self) -> Result<Vec<MeterRecord>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare(
            "SELECT id, name, feeder, transformer, created_ms, revoked FROM meters ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get::<_, bool>(5)?,
            ))
        })?;
        let mut meters = Vec::new();
        for row in rows {
            let (id, name, feeder, transformer, created_ms, revoked) = row?;
            let id = stored_meter_id(&id)?;
            meters.push(MeterRecord {
                id,
                name,
                feeder,
                transformer,
                created_ms,
                revoked,
            });
        }
        Ok(meters)
    }

    /// Writes a batch in one transaction. Messages already stored are skipped; the
    /// outcome says, per meter, up to which seq everything is stored.
    pub fn write_batch(&self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        let mut writer = lock(&self.writer);
        let transaction = writer.transaction()?;
        let mut outcome = BatchOutcome::default();
        let mut touched: BTreeMap<&MeterId, i64> = BTreeMap::new();
        for (meter, message) in &batch.messages {
            if insert_message(&transaction, meter, message)? {
                outcome.stored += 1;
            } else {
                outcome.duplicates += 1;
            }
            let last = touched.entry(meter).or_insert(i64::MIN);
            *last = (*last).max(message.ts_ms());
        }
        for letter in &batch.dead_letters {
            transaction.execute(
                "INSERT INTO dead_letters (received_ms, topic, meter_id, reason, detail, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    letter.received_ms,
                    letter.topic,
                    letter.meter,
                    letter.reason,
                    letter.detail,
                    letter.payload
                ],
            )?;
        }
        for (meter, last_ms) in touched {
            let contiguous = advance_progress(&transaction, meter, last_ms)?;
            outcome.acknowledged.push((meter.clone(), contiguous));
        }
        transaction.commit()?;
        Ok(outcome)
    }

    /// Up to which seq everything of a meter is stored (0: nothing yet).
    pub fn contiguous_seq(&self, meter: &MeterId) -> Result<u64, StoreError> {
        let reader = lock(&self.reader);
        let contiguous: Option<i64> = reader
            .query_row(
                "SELECT contiguous FROM progress WHERE meter_id = ?1",
                params![meter.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        Ok(contiguous.map_or(0, to_u64))
    }

    /// The holes in a meter's sequence between what is contiguous and the highest seen.
    pub fn gaps(&self, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
        let reader = lock(&self.reader);
        let contiguous: i64 = reader
            .query_row(
                "SELECT contiguous FROM progress WHERE meter_id = ?1",
                params![meter.as_str()],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        let mut statement =
            reader.prepare("SELECT seq FROM seqs WHERE meter_id = ?1 AND seq > ?2 ORDER BY seq")?;
        let mut expected = contiguous + 1;
        let mut gaps = Vec::new();
        for seq in statement.query_map(params![meter.as_str(), contiguous], |row| {
            row.get::<_, i64>(0)
        })? {
            let seq = seq?;
            if seq > expected {
                gaps.push(Gap {
                    from: to_u64(expected),
                    to: to_u64(seq - 1),
                });
            }
            expected = seq + 1;
        }
        Ok(gaps)
    }

    /// Every meter's latest stored registers (from live readings and interval records),
    /// with their time: what ingest checks new messages against after a restart.
    pub fn latest_registers(&self) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
        let reader = lock(&self.reader);
        // SQLite returns the other columns of the row that holds MAX(ts_ms).
        let mut statement = reader.prepare(
            "SELECT meter_id, MAX(ts_ms), import_mwh, export_mwh FROM (
                 SELECT meter_id, ts_ms, import_mwh, export_mwh FROM live
                 UNION ALL
                 SELECT meter_id, ts_ms, import_mwh, export_mwh FROM intervals
             ) GROUP BY meter_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?;
        let mut latest = Vec::new();
        for row in rows {
            let (id, ts_ms, import_mwh, export_mwh) = row?;
            let id = stored_meter_id(&id)?;
            let registers = Registers {
                import_mwh: to_u64(import_mwh),
                export_mwh: to_u64(export_mwh),
                ..Registers::default()
            };
            latest.push((id, ts_ms, registers));
        }
        Ok(latest)
    }

    /// The latest live reading of a meter.
    pub fn latest_reading(&self, meter: &MeterId) -> Result<Option<LiveReading>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare(&format!(
            "{LIVE_COLUMNS} WHERE meter_id = ?1 ORDER BY ts_ms DESC, seq DESC LIMIT 1"
        ))?;
        let mut rows = statement.query(params![meter.as_str()])?;
        rows.next()?.map(live_from_row).transpose()
    }

    /// Live readings of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    pub fn readings(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<LiveReading>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare(&format!(
            "{LIVE_COLUMNS} WHERE meter_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, seq"
        ))?;
        let mut rows = statement.query(params![meter.as_str(), from_ms, to_ms])?;
        let mut readings = Vec::new();
        while let Some(row) = rows.next()? {
            readings.push(live_from_row(row)?);
        }
        Ok(readings)
    }

    /// Interval records of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    pub fn intervals(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IntervalRecord>, StoreError> {
        self.json_in_range(
            "record",
            "intervals",
            meter,
            from_ms,
            to_ms,
            "interval record",
        )
    }

    /// Events of a meter with `from_ms <= ts_ms < to_ms`, oldest first.
    pub fn events(
        &self,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<EventMessage>, StoreError> {
        self.json_in_range("event", "events", meter, from_ms, to_ms, "event")
    }

    /// The JSON `column` of `table` for a meter with `from_ms <= ts_ms < to_ms`, decoded.
    fn json_in_range<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
        table: &str,
        meter: &MeterId,
        from_ms: i64,
        to_ms: i64,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare_cached(&format!(
            "SELECT {column} FROM {table} WHERE meter_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
             ORDER BY ts_ms, seq"
        ))?;
        let rows = statement.query_map(params![meter.as_str(), from_ms, to_ms], |row| {
            row.get::<_, String>(0)
        })?;
        let mut decoded = Vec::new();
        for row in rows {
            decoded.push(serde_json::from_str(&row?).map_err(corrupt(what))?);
        }
        Ok(decoded)
    }

    /// The most recent dead letters, newest first.
    pub fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let reader = lock(&self.reader);
        let mut statement = reader.prepare(
            "SELECT received_ms, topic, meter_id, reason, detail, payload FROM dead_letters
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows =
            statement.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
                Ok(DeadLetter {
                    received_ms: row.get(0)?,
                    topic: row.get(1)?,
                    meter: row.get(2)?,
                    reason: row.get(3)?,
                    detail: row.get(4)?,
                    payload: row.get(5)?,
                })
            })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A meter id read back from the database.
fn stored_meter_id(id: &str) -> Result<MeterId, StoreError> {
    MeterId::new(id).map_err(|error| StoreError::Corrupt {
        what: "meter id",
        detail: error.to_string(),
    })
}

fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        transaction.pragma_update(
            None,
            "user_version",
            i64::try_from(index + 1).unwrap_or(i64::MAX),
        )?;
        transaction.commit()?;
    }
    Ok(())
}

/// SQLite integers are i64; sequence numbers and registers are checked to fit on ingest.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Inserts one message unless its (meter, seq) is stored already; returns whether it was new.
fn insert_message(
    transaction: &Transaction<'_>,
    meter: &MeterId,
    message: &Stored,
) -> Result<bool, StoreError> {
    let new = transaction.execute(
        "INSERT OR IGNORE INTO seqs (meter_id, seq, kind, ts_ms) VALUES (?1, ?2, ?3, ?4)",
        params![
            meter.as_str(),
            to_i64(message.seq()),
            message.kind(),
            message.ts_ms()
        ],
    )? == 1;
    if !new {
        return Ok(false);
    }
    match message {
        Stored::Live(m) => {
            let phases = if m.phases.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&m.phases).map_err(corrupt("phases"))?)
            };
            transaction.execute(
                "INSERT INTO live (meter_id, ts_ms, seq, voltage_v, current_a, p_w, q_var, s_va, pf,
                 freq_hz, import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah,
                 apparent_export_mvah, tariff, relay, phases)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                params![
                    meter.as_str(),
                    m.ts_ms,
                    to_i64(m.seq),
                    m.voltage_v,
                    m.current_a,
                    m.p_w,
                    m.q_var,
                    m.s_va,
                    m.pf,
                    m.freq_hz,
                    to_i64(m.registers.import_mwh),
                    to_i64(m.registers.export_mwh),
                    serde_json::to_string(&m.registers.reactive_mvarh).map_err(corrupt("registers"))?,
                    to_i64(m.registers.apparent_import_mvah),
                    to_i64(m.registers.apparent_export_mvah),
                    m.tariff,
                    relay_name(m.relay)?,
                    phases,
                ],
            )?;
        }
        Stored::Interval(m) => {
            transaction.execute(
                "INSERT INTO intervals (meter_id, ts_ms, seq, record, import_mwh, export_mwh)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    meter.as_str(),
                    m.ts_ms,
                    to_i64(m.seq),
                    serde_json::to_string(m).map_err(corrupt("interval record"))?,
                    to_i64(m.registers.import_mwh),
                    to_i64(m.registers.export_mwh),
                ],
            )?;
        }
        Stored::Event(m) => {
            let kind = serde_json::to_value(m.kind).map_err(corrupt("event kind"))?;
            transaction.execute(
                "INSERT INTO events (meter_id, seq, ts_ms, kind, event) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    meter.as_str(),
                    to_i64(m.seq),
                    m.ts_ms,
                    kind.as_str().unwrap_or("unknown"),
                    serde_json::to_string(m).map_err(corrupt("event"))?,
                ],
            )?;
        }
        Stored::SequenceOnly { .. } => {}
    }
    Ok(true)
}

/// Moves a meter's contiguous mark over every seq now present; returns the new mark.
fn advance_progress(
    transaction: &Transaction<'_>,
    meter: &MeterId,
    last_ms: i64,
) -> Result<u64, StoreError> {
    let (mut contiguous, highest): (i64, i64) = transaction
        .query_row(
            "SELECT contiguous, highest FROM progress WHERE meter_id = ?1",
            params![meter.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, 0));
    let mut statement = transaction
        .prepare_cached("SELECT seq FROM seqs WHERE meter_id = ?1 AND seq > ?2 ORDER BY seq")?;
    let mut rows = statement.query(params![meter.as_str(), contiguous])?;
    let mut highest = highest;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        highest = highest.max(seq);
        if seq == contiguous + 1 {
            contiguous = seq;
        } else {
            // Past a hole: only the highest seq still matters.
            if let Some(max) = transaction
                .query_row(
                    "SELECT MAX(seq) FROM seqs WHERE meter_id = ?1",
                    params![meter.as_str()],
                    |row| row.get::<_, Option<i64>>(0),
                )
                .optional()?
                .flatten()
            {
                highest = highest.max(max);
            }
            break;
        }
    }
    drop(rows);
    transaction.execute(
        "INSERT INTO progress (meter_id, contiguous, highest, last_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (meter_id) DO UPDATE SET contiguous = ?2, highest = ?3,
         last_ms = MAX(last_ms, ?4)",
        params![meter.as_str(), contiguous, highest, last_ms],
    )?;
    Ok(to_u64(contiguous))
}

const LIVE_COLUMNS: &str = "SELECT seq, ts_ms, voltage_v, current_a, p_w, q_var, s_va, pf, freq_hz,
    import_mwh, export_mwh, reactive_mvarh, apparent_import_mvah, apparent_export_mvah, tariff,
    relay, phases FROM live";

/// The relay state as stored: its wire name, from the protocol's own serde names.
fn relay_name(relay: RelayState) -> Result<String, StoreError> {
    match serde_json::to_value(relay).map_err(corrupt("relay state"))? {
        serde_json::Value::String(name) => Ok(name),
        other => Err(StoreError::Corrupt {
            what: "relay state",
            detail: other.to_string(),
        }),
    }
}

fn relay_from_name(name: String) -> Result<RelayState, StoreError> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(corrupt("relay state"))
}

fn live_from_row(row: &rusqlite::Row<'_>) -> Result<LiveReading, StoreError> {
    let reactive: String = row.get(11)?;
    let phases: Option<String> = row.get(16)?;
    let phases: Vec<PhaseReading> = match phases {
        Some(text) => serde_json::from_str(&text).map_err(corrupt("phases"))?,
        None => Vec::new(),
    };
    let relay: String = row.get(15)?;
    Ok(LiveReading {
        v: joule_protocol::PAYLOAD_VERSION,
        seq: to_u64(row.get(0)?),
        ts_ms: row.get(1)?,
        voltage_v: row.get(2)?,
        current_a: row.get(3)?,
        p_w: row.get(4)?,
        q_var: row.get(5)?,
        s_va: row.get(6)?,
        pf: row.get(7)?,
        freq_hz: row.get(8)?,
        registers: Registers {
            import_mwh: to_u64(row.get(9)?),
            export_mwh: to_u64(row.get(10)?),
            reactive_mvarh: serde_json::from_str(&reactive).map_err(corrupt("registers"))?,
            apparent_import_mvah: to_u64(row.get(12)?),
            apparent_export_mvah: to_u64(row.get(13)?),
        },
        tariff: row.get(14)?,
        phases,
        relay: relay_from_name(relay)?,
    })
}
