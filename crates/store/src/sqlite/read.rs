//! SQLite queries for the readers: progress, series, readings, records.

use super::compact;
use crate::compact::{BlockKind, Columnar, Source};
use crate::read::{
    DEAD_LETTER_COLUMNS, INTERVAL_COLUMNS, INTERVAL_REGISTER_COLUMNS, Newest, READING_COLUMNS,
    ROLLUP_COLUMNS, gaps_above,
};
use crate::{
    Bucket, DeadLetter, Gap, IntervalRegisters, Resolution, SeriesPoint, StoreError, read,
    stored_meter_id, to_i64, to_u64,
};
use joule_protocol::{EventMessage, IntervalRecord, LiveReading, MeterId, Registers};
use rusqlite::{Connection, OptionalExtension, params};

pub(super) fn contiguous_seq(connection: &Connection, meter: &MeterId) -> Result<u64, StoreError> {
    let contiguous: Option<i64> = connection
        .query_row(
            "SELECT contiguous FROM progress WHERE meter_id = ?1",
            params![meter.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    Ok(contiguous.map_or(0, to_u64))
}

pub(super) fn gaps(connection: &Connection, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
    let contiguous = to_i64(contiguous_seq(connection, meter)?);
    let seqs = connection
        .prepare_cached("SELECT seq FROM seqs WHERE meter_id = ?1 AND seq > ?2 ORDER BY seq")?
        .query_map(params![meter.as_str(), contiguous], |row| row.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(gaps_above(contiguous, &seqs))
}

pub(super) fn latest_registers(
    connection: &Connection,
) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
    // The newest hour rollup (live readings may be pruned; rollups stay) and interval
    // record per meter, from rows and blocks (`read::newest_registers`). Index seeks per
    // meter: a scan of every record grouped by meter took seconds per thousand meters,
    // with the reader held and the hub not yet ingesting.
    let mut rollup = connection.prepare_cached(
        "SELECT bucket_ms, import_last, export_last FROM rollups
         WHERE meter_id = ?1 AND width_ms = 3600000 ORDER BY bucket_ms DESC LIMIT 1",
    )?;
    let mut record = connection.prepare_cached(
        "SELECT ts_ms, import_mwh, export_mwh FROM intervals
         WHERE meter_id = ?1 ORDER BY ts_ms DESC LIMIT 1",
    )?;
    // Every meter that has sent anything has a progress row.
    let mut meters =
        connection.prepare_cached("SELECT meter_id FROM progress ORDER BY meter_id")?;
    let ids = meters
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let newest = |row: &rusqlite::Row<'_>| -> rusqlite::Result<Newest> {
        Ok((row.get(0)?, to_u64(row.get(1)?), to_u64(row.get(2)?)))
    };
    let mut latest = Vec::new();
    for id in ids {
        let row_bucket = rollup.query_row(params![id], newest).optional()?;
        // A block's part of the row's own bucket counts too.
        let after_ms = row_bucket.map_or(i64::MIN, |(bucket_ms, _, _)| bucket_ms - 1);
        let block_bucket =
            compact::newest_in_blocks::<Bucket>(connection, &id, BlockKind::HourRollup, after_ms)?;
        let row_record = record.query_row(params![id], newest).optional()?;
        let after_ms = row_record.map_or(i64::MIN, |(ts_ms, _, _)| ts_ms);
        let block_record = compact::newest_in_blocks::<IntervalRegisters>(
            connection,
            &id,
            BlockKind::Interval,
            after_ms,
        )?;
        if let Some((ts_ms, registers)) = read::newest_registers(
            (row_bucket, block_bucket.as_ref()),
            (row_record, block_record.as_ref()),
        ) {
            latest.push((stored_meter_id(&id)?, ts_ms, registers));
        }
    }
    Ok(latest)
}

pub(super) fn latest_reading(
    connection: &Connection,
    meter: &MeterId,
) -> Result<Option<LiveReading>, StoreError> {
    let fresh = connection
        .prepare_cached(&format!(
            "SELECT {READING_COLUMNS} FROM live WHERE meter_id = ?1
             ORDER BY ts_ms DESC, seq DESC LIMIT 1"
        ))?
        .query_and_then(params![meter.as_str()], |row| read::reading(row))?
        .next()
        .transpose()?;
    // A late reading for a compacted hour may be the newest row but not the newest reading.
    let after_ms = fresh.as_ref().map_or(i64::MIN, |reading| reading.ts_ms);
    let compacted =
        compact::newest_in_blocks(connection, meter.as_str(), BlockKind::Live, after_ms)?;
    Ok(compacted.or(fresh))
}

pub(super) fn readings(
    connection: &Connection,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<LiveReading>, StoreError> {
    let source = Source::live();
    rows_and_blocks(connection, meter, from_ms, to_ms, source, |row| {
        read::reading(row)
    })
}

pub(super) fn intervals(
    connection: &Connection,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<IntervalRecord>, StoreError> {
    let source = Source::intervals(INTERVAL_COLUMNS);
    rows_and_blocks(connection, meter, from_ms, to_ms, source, |row| {
        read::interval(row)
    })
}

pub(super) fn interval_registers(
    connection: &Connection,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<IntervalRegisters>, StoreError> {
    let source = Source::intervals(INTERVAL_REGISTER_COLUMNS);
    rows_and_blocks(connection, meter, from_ms, to_ms, source, |row| {
        read::interval_registers(row)
    })
}

/// A meter's records of one kind, or a projection of them, in `[from_ms, to_ms)`: its
/// fresh rows (`source.columns`, read by `of_row`) and the blocks overlapping the range.
fn rows_and_blocks<T: Columnar>(
    connection: &Connection,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    source: Source,
    of_row: impl Fn(&rusqlite::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let Source {
        table,
        columns,
        kind,
    } = source;
    // Rows and blocks from one snapshot: a compaction committing between the two reads
    // would otherwise show its rows twice.
    let snapshot = connection.unchecked_transaction()?;
    let rows = snapshot
        .prepare_cached(&format!(
            "SELECT {columns} FROM {table}
             WHERE meter_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms, seq"
        ))?
        .query_and_then(params![meter.as_str(), from_ms, to_ms], of_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = compact::blocks(&snapshot, meter, kind, from_ms, to_ms)?;
    crate::compact::combine(&blocks, rows, from_ms, to_ms)
}

pub(super) fn series(
    connection: &Connection,
    meter: &MeterId,
    resolution: Resolution,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let Some(width_ms) = resolution.bucket_ms() else {
        return Ok(readings(connection, meter, from_ms, to_ms)?
            .iter()
            .map(SeriesPoint::of)
            .collect());
    };
    // Rows and blocks from one snapshot, as in `rows_and_blocks`.
    let snapshot = connection.unchecked_transaction()?;
    let rows = snapshot
        .prepare_cached(&format!(
            "SELECT {ROLLUP_COLUMNS} FROM rollups
             WHERE meter_id = ?1 AND width_ms = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
             ORDER BY bucket_ms"
        ))?
        .query_and_then(params![meter.as_str(), width_ms, from_ms, to_ms], |row| {
            read::bucket(row)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = match BlockKind::of_rollup(width_ms) {
        // A bucket starting before `to_ms` may hold readings up to a width after it.
        Some(kind) => compact::blocks(
            &snapshot,
            meter,
            kind,
            from_ms,
            to_ms.saturating_add(width_ms),
        )?,
        None => Vec::new(),
    };
    Ok(
        crate::compact::combine_buckets(width_ms, &blocks, rows, from_ms, to_ms)?
            .iter()
            .map(Bucket::point)
            .collect(),
    )
}

/// A JSON column selected by `sql` (with the meter and time range as parameters), decoded.
pub(super) fn json_in_range<T: serde::de::DeserializeOwned>(
    connection: &Connection,
    sql: &str,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    connection
        .prepare_cached(sql)?
        .query_and_then(params![meter.as_str(), from_ms, to_ms], |row| {
            read::json(row, what)
        })?
        .collect()
}

pub(super) fn recent_events(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
    connection
        .prepare_cached(
            "SELECT meter_id, event FROM events ORDER BY ts_ms DESC, meter_id, seq DESC LIMIT ?1",
        )?
        .query_and_then(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            read::meter_event(row)
        })?
        .collect()
}

pub(super) fn dead_letters(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    connection
        .prepare(&format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT ?1"
        ))?
        .query_and_then(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            read::dead_letter(row)
        })?
        .collect()
}
