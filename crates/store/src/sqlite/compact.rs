//! SQLite's side of compacted history (see `crate::compact`): the blocks table, moving
//! rows older than the cut into blocks, reading blocks back, and the upgrade of a store
//! written before blocks existed.

use super::intervals::insert_interval;
use crate::compact::{self, BlockKind, Columnar, Compact, CompactionOutcome};
use crate::{StoreError, corrupt, read, stored_meter_id};
use joule_protocol::{IntervalRecord, LiveReading, MeterId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::time::{Duration, Instant};

/// Schema version 8: interval records as typed columns instead of JSON, and the blocks.
/// The old table is renamed here and converted row by row by [`convert_json_intervals`]
/// in the same transaction, so an upgrade either finishes or leaves the old store whole.
/// A block's `end_ms` is just after its newest record (blocks written before 2026-12-08
/// hold their period's end, also an upper bound; readers need no more).
pub(super) const MIGRATION: &str = r#"
ALTER TABLE intervals RENAME TO intervals_json;
CREATE TABLE intervals (
    meter_id TEXT NOT NULL,
    v INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    interval_s INTEGER NOT NULL,
    import_mwh INTEGER NOT NULL,
    export_mwh INTEGER NOT NULL,
    q1_mvarh INTEGER NOT NULL,
    q2_mvarh INTEGER NOT NULL,
    q3_mvarh INTEGER NOT NULL,
    q4_mvarh INTEGER NOT NULL,
    apparent_import_mvah INTEGER NOT NULL,
    apparent_export_mvah INTEGER NOT NULL,
    tariffs TEXT,
    voltage_min_v REAL NOT NULL,
    voltage_max_v REAL NOT NULL,
    voltage_avg_v REAL NOT NULL,
    max_demand_w REAL,
    sags INTEGER NOT NULL,
    swells INTEGER NOT NULL,
    interruptions INTEGER NOT NULL,
    PRIMARY KEY (meter_id, ts_ms, seq)
) WITHOUT ROWID;
CREATE TABLE blocks (
    meter_id TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (meter_id, kind, start_ms)
);
"#;

/// Schema version 9: minute rollups are no longer kept in blocks (a compacted day's minute
/// buckets are summed from its live readings); the blocks of code 3 that held them go.
pub(super) const MINUTE_BLOCKS_MIGRATION: &str = compact::DROP_MINUTE_BLOCKS;

/// Moves the interval records of a store written before version 8 from their JSON column
/// into typed rows, logging progress every few seconds, then drops the old table.
pub(super) fn convert_json_intervals(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    let total: i64 =
        transaction.query_row("SELECT count(*) FROM intervals_json", [], |row| row.get(0))?;
    if total > 0 {
        tracing::info!(
            records = total,
            "upgrading the store: interval records to typed columns"
        );
    }
    let started = Instant::now();
    let mut shown = Instant::now();
    let mut done = 0_i64;
    {
        let mut select = transaction.prepare("SELECT meter_id, record FROM intervals_json")?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let meter = stored_meter_id(&row.get::<_, String>(0)?)?;
            let record: IntervalRecord = serde_json::from_str(&row.get::<_, String>(1)?)
                .map_err(corrupt("interval record"))?;
            insert_interval(transaction, &meter, &record)?;
            done += 1;
            if shown.elapsed() >= Duration::from_secs(2) {
                shown = Instant::now();
                tracing::info!(
                    "upgrading the store: {done} of {total} interval records ({:.0} %)",
                    done as f64 * 100.0 / total as f64
                );
            }
        }
    }
    transaction.execute_batch("DROP TABLE intervals_json")?;
    if total > 0 {
        tracing::info!(
            "upgraded the store: {total} interval records in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The blocks of a meter's `kind` overlapping `[from_ms, to_ms)`, oldest first.
pub(super) fn blocks(
    connection: &Connection,
    meter: &MeterId,
    kind: BlockKind,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(connection
        .prepare_cached(
            "SELECT data FROM blocks WHERE meter_id = ?1 AND kind = ?2 AND start_ms < ?4
             AND end_ms > ?3 ORDER BY start_ms",
        )?
        .query_map(
            params![meter.as_str(), kind.code(), from_ms, to_ms],
            |row| row.get(0),
        )?
        .collect::<Result<_, _>>()?)
}

/// The newest record of a meter's `kind` in blocks that end after `after_ms` (a fresh
/// row's time: a block of a period over before it holds nothing newer and is not read).
pub(super) fn newest_in_blocks<T: Columnar>(
    connection: &Connection,
    meter: &str,
    kind: BlockKind,
    after_ms: i64,
) -> Result<Option<T>, StoreError> {
    let data: Option<Vec<u8>> = connection
        .prepare_cached(
            "SELECT data FROM blocks WHERE meter_id = ?1 AND kind = ?2 AND end_ms > ?3
             ORDER BY start_ms DESC LIMIT 1",
        )?
        .query_row(params![meter, kind.code(), after_ms], |row| row.get(0))
        .optional()?;
    Ok(match data {
        Some(data) => compact::decode::<T>(&data)?
            .pop()
            .filter(|record| record.ts_ms() > after_ms),
        None => None,
    })
}

/// The meters that have stored anything (every one has a progress row).
pub(super) fn meters(connection: &Connection) -> Result<Vec<String>, StoreError> {
    Ok(connection
        .prepare("SELECT meter_id FROM progress ORDER BY meter_id")?
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?)
}

/// Compacts one meter's rows older than the cut at `now_ms` in one transaction; the
/// caller takes the writer per meter, so ingest waits at most one meter's worth.
pub(super) fn compact(
    connection: &mut Connection,
    meter: &str,
    now_ms: i64,
) -> Result<CompactionOutcome, StoreError> {
    let transaction = connection.transaction()?;
    let (rows, blocks) = compact_meter(&transaction, meter, now_ms)?;
    transaction.commit()?;
    Ok(CompactionOutcome {
        meters: u64::from(rows > 0),
        rows,
        blocks,
    })
}

/// Moves one meter's rows before each kind's cut at `now_ms` into blocks, and drops its
/// minute rollup rows before the live readings' cut (their blocks hold them); returns
/// (rows, blocks written).
fn compact_meter(
    transaction: &Transaction<'_>,
    meter: &str,
    now_ms: i64,
) -> Result<(u64, u64), StoreError> {
    let mut moved = (0, 0);
    let parameter = |n: u8| format!("?{n}");
    for kind in BlockKind::ALL {
        let take = kind.take_fresh_rows_sql(parameter);
        let cut_ms = kind.cut_ms(now_ms);
        let parameters = params![meter, cut_ms];
        let (rows, blocks) = match kind {
            BlockKind::Interval => {
                let rows = fresh(transaction, &take, parameters, |row| read::interval(row))?;
                write_blocks(transaction, meter, kind, rows)?
            }
            BlockKind::Live => {
                let rows = fresh(transaction, &take, parameters, |row| read::reading(row))?;
                write_blocks(transaction, meter, kind, rows)?
            }
            BlockKind::HourRollup | BlockKind::DayRollup => {
                let rows = fresh(transaction, &take, parameters, |row| read::bucket(row))?;
                write_blocks(transaction, meter, kind, rows)?
            }
        };
        moved.0 += rows;
        moved.1 += blocks;
    }
    transaction
        .prepare_cached(&compact::minute_rollups_delete_sql(parameter))?
        .execute(params![meter, BlockKind::Live.cut_ms(now_ms)])?;
    Ok(moved)
}

/// The rows `take` deletes and returns, each read by `map`.
fn fresh<T>(
    transaction: &Transaction<'_>,
    take: &str,
    parameters: &[&dyn rusqlite::ToSql],
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    transaction
        .prepare_cached(take)?
        .query_and_then(parameters, |row| map(row))?
        .collect()
}

/// Merges `rows` into the blocks of their periods; returns (rows, blocks written).
fn write_blocks<T: Compact>(
    transaction: &Transaction<'_>,
    meter: &str,
    kind: BlockKind,
    rows: Vec<T>,
) -> Result<(u64, u64), StoreError> {
    let moved = rows.len() as u64;
    let periods = compact::by_period(kind, rows);
    let written = periods.len() as u64;
    for ((start_ms, _), rows) in periods {
        let existing: Option<Vec<u8>> = transaction
            .prepare_cached(
                "SELECT data FROM blocks WHERE meter_id = ?1 AND kind = ?2 AND start_ms = ?3",
            )?
            .query_row(params![meter, kind.code(), start_ms], |row| row.get(0))
            .optional()?;
        let records = match existing {
            Some(data) => compact::merge(compact::decode::<T>(&data)?, rows),
            None => compact::merge(Vec::new(), rows),
        };
        write_block(transaction, meter, kind, start_ms, &records)?;
    }
    Ok((moved, written))
}

/// Writes (or replaces) the block of the period starting at `start_ms`, ending just after
/// its newest record ([`compact::block_end_ms`]); an empty one is deleted.
pub(super) fn write_block<T: Compact>(
    transaction: &Transaction<'_>,
    meter: &str,
    kind: BlockKind,
    start_ms: i64,
    records: &[T],
) -> Result<(), StoreError> {
    let Some(newest) = records.last() else {
        transaction
            .prepare_cached(
                "DELETE FROM blocks WHERE meter_id = ?1 AND kind = ?2 AND start_ms = ?3",
            )?
            .execute(params![meter, kind.code(), start_ms])?;
        return Ok(());
    };
    transaction
        .prepare_cached(
            "INSERT INTO blocks (meter_id, kind, start_ms, end_ms, count, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (meter_id, kind, start_ms) DO UPDATE SET
                 end_ms = excluded.end_ms, count = excluded.count, data = excluded.data",
        )?
        .execute(params![
            meter,
            kind.code(),
            start_ms,
            compact::block_end_ms(newest),
            records.len() as i64,
            compact::encode(records)?
        ])?;
    Ok(())
}

/// Deletes a meter's compacted live readings before `before_ms`: whole blocks, and the
/// readings of the block the cut falls in. Returns how many readings went.
pub(super) fn prune_live_blocks(
    transaction: &Transaction<'_>,
    meter: &str,
    before_ms: i64,
) -> Result<u64, StoreError> {
    let kind = BlockKind::Live;
    let whole: i64 = transaction
        .prepare_cached(
            "SELECT coalesce(sum(count), 0) FROM blocks WHERE meter_id = ?1 AND kind = ?2
             AND end_ms <= ?3",
        )?
        .query_row(params![meter, kind.code(), before_ms], |row| row.get(0))?;
    transaction
        .prepare_cached("DELETE FROM blocks WHERE meter_id = ?1 AND kind = ?2 AND end_ms <= ?3")?
        .execute(params![meter, kind.code(), before_ms])?;
    let straddling: Option<(i64, Vec<u8>)> = transaction
        .prepare_cached(
            "SELECT start_ms, data FROM blocks WHERE meter_id = ?1 AND kind = ?2
             AND start_ms < ?3 AND end_ms > ?3",
        )?
        .query_row(params![meter, kind.code(), before_ms], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let mut deleted = u64::try_from(whole).unwrap_or(0);
    if let Some((start_ms, data)) = straddling {
        let readings = compact::decode::<LiveReading>(&data)?;
        let (kept, gone) = compact::keep_from(readings, before_ms);
        deleted += gone;
        write_block(transaction, meter, kind, start_ms, &kept)?;
    }
    Ok(deleted)
}
