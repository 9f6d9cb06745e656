//! PostgreSQL queries for the readers: progress, series, readings, records. They run on the
//! reader connection, which sees the last committed batch and never waits for the writer.

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
use tokio_postgres::Client;

pub(super) async fn contiguous_seq(client: &Client, meter: &MeterId) -> Result<u64, StoreError> {
    let row = client
        .query_opt(
            "SELECT contiguous FROM progress WHERE meter_id = $1",
            &[&meter.as_str()],
        )
        .await?;
    Ok(match row {
        Some(row) => to_u64(row.try_get(0)?),
        None => 0,
    })
}

pub(super) async fn gaps(client: &Client, meter: &MeterId) -> Result<Vec<Gap>, StoreError> {
    let contiguous = to_i64(contiguous_seq(client, meter).await?);
    let seqs = client
        .query(
            "SELECT seq FROM seqs WHERE meter_id = $1 AND seq > $2 ORDER BY seq",
            &[&meter.as_str(), &contiguous],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(gaps_above(contiguous, &seqs))
}

pub(super) async fn latest_registers(
    client: &Client,
) -> Result<Vec<(MeterId, i64, Registers)>, StoreError> {
    // The newest hour rollup (live readings may be pruned; rollups stay) and interval
    // record per meter, from rows and blocks (`read::newest_registers`). Index seeks per
    // meter that has sent anything (LATERAL): sorting every record by meter took seconds
    // per thousand meters, while the hub waited to start ingesting.
    let rows = client
        .query(
            "SELECT p.meter_id, r.bucket_ms, r.import_last, r.export_last,
                    i.ts_ms, i.import_mwh, i.export_mwh
             FROM progress p
             LEFT JOIN LATERAL (
                 SELECT bucket_ms, import_last, export_last FROM rollups
                 WHERE meter_id = p.meter_id AND width_ms = 3600000
                 ORDER BY bucket_ms DESC LIMIT 1
             ) r ON true
             LEFT JOIN LATERAL (
                 SELECT ts_ms, import_mwh, export_mwh FROM intervals
                 WHERE meter_id = p.meter_id ORDER BY ts_ms DESC LIMIT 1
             ) i ON true
             ORDER BY p.meter_id",
            &[],
        )
        .await?;
    // Where each meter's newest blocks end: a block is decoded only when it ends after
    // the meter's newest row (its own bucket's block: at or after it), which a pass
    // leaves so for the meters still sending.
    let block_ends: std::collections::HashMap<(String, i16), i64> = client
        .query(
            "SELECT meter_id, kind, max(end_ms) FROM blocks WHERE kind = ANY($1)
             GROUP BY meter_id, kind",
            &[&vec![
                BlockKind::HourRollup.code(),
                BlockKind::Interval.code(),
            ]],
        )
        .await?
        .iter()
        .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), row.try_get(2)?)))
        .collect::<Result<_, StoreError>>()?;
    let newer_block = |id: &str, kind: BlockKind, after_ms: i64| {
        block_ends
            .get(&(id.to_owned(), kind.code()))
            .is_some_and(|&end_ms| end_ms > after_ms)
    };
    let newest = |row: &tokio_postgres::Row, at: usize| -> Result<Option<Newest>, StoreError> {
        Ok(match row.try_get::<_, Option<i64>>(at)? {
            Some(ts_ms) => Some((
                ts_ms,
                to_u64(row.try_get(at + 1)?),
                to_u64(row.try_get(at + 2)?),
            )),
            None => None,
        })
    };
    let mut latest = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        let row_bucket = newest(&row, 1)?;
        // A block's part of the row's own bucket counts too.
        let after_ms = row_bucket.map_or(i64::MIN, |(bucket_ms, _, _)| bucket_ms - 1);
        let mut block_bucket = None;
        if newer_block(&id, BlockKind::HourRollup, after_ms) {
            block_bucket =
                compact::newest_in_blocks::<Bucket>(client, &id, BlockKind::HourRollup, after_ms)
                    .await?;
        }
        let row_record = newest(&row, 4)?;
        let after_ms = row_record.map_or(i64::MIN, |(ts_ms, _, _)| ts_ms);
        let mut block_record = None;
        if newer_block(&id, BlockKind::Interval, after_ms) {
            block_record = compact::newest_in_blocks::<IntervalRegisters>(
                client,
                &id,
                BlockKind::Interval,
                after_ms,
            )
            .await?;
        }
        if let Some((ts_ms, registers)) = read::newest_registers(
            (row_bucket, block_bucket.as_ref()),
            (row_record, block_record.as_ref()),
        ) {
            latest.push((stored_meter_id(&id)?, ts_ms, registers));
        }
    }
    Ok(latest)
}

pub(super) async fn latest_reading(
    client: &Client,
    meter: &MeterId,
) -> Result<Option<LiveReading>, StoreError> {
    let fresh = client
        .query_opt(
            &format!(
                "SELECT {READING_COLUMNS} FROM live WHERE meter_id = $1
                 ORDER BY ts_ms DESC, seq DESC LIMIT 1"
            ),
            &[&meter.as_str()],
        )
        .await?
        .as_ref()
        .map(read::reading)
        .transpose()?;
    // A late reading for a compacted hour may be the newest row but not the newest reading.
    let after_ms = fresh.as_ref().map_or(i64::MIN, |reading| reading.ts_ms);
    let compacted =
        compact::newest_in_blocks(client, meter.as_str(), BlockKind::Live, after_ms).await?;
    Ok(compacted.or(fresh))
}

pub(super) async fn readings(
    client: &Client,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<LiveReading>, StoreError> {
    let source = Source::live();
    rows_and_blocks(client, meter, from_ms, to_ms, source, |row| {
        read::reading(row)
    })
    .await
}

pub(super) async fn intervals(
    client: &Client,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<IntervalRecord>, StoreError> {
    let source = Source::intervals(INTERVAL_COLUMNS);
    rows_and_blocks(client, meter, from_ms, to_ms, source, |row| {
        read::interval(row)
    })
    .await
}

pub(super) async fn interval_registers(
    client: &Client,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<IntervalRegisters>, StoreError> {
    let source = Source::intervals(INTERVAL_REGISTER_COLUMNS);
    rows_and_blocks(client, meter, from_ms, to_ms, source, |row| {
        read::interval_registers(row)
    })
    .await
}

/// A meter's records of one kind, or a projection of them, in `[from_ms, to_ms)`: its
/// fresh rows (`source.columns`, read by `of_row`) and the blocks overlapping the range.
async fn rows_and_blocks<T: Columnar>(
    client: &Client,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    source: Source,
    of_row: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let Source {
        table,
        columns,
        kind,
    } = source;
    let rows = client
        .query(
            &format!(
                "SELECT {columns} FROM {table}
                 WHERE meter_id = $1 AND ts_ms >= $2 AND ts_ms < $3 ORDER BY ts_ms, seq"
            ),
            &[&meter.as_str(), &from_ms, &to_ms],
        )
        .await?
        .iter()
        .map(of_row)
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = compact::blocks(client, meter, kind, from_ms, to_ms).await?;
    crate::compact::combine(&blocks, rows, from_ms, to_ms)
}

pub(super) async fn series(
    client: &Client,
    meter: &MeterId,
    resolution: Resolution,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<SeriesPoint>, StoreError> {
    let Some(width_ms) = resolution.bucket_ms() else {
        return Ok(readings(client, meter, from_ms, to_ms)
            .await?
            .iter()
            .map(SeriesPoint::of)
            .collect());
    };
    let rows = client
        .query(
            &format!(
                "SELECT {ROLLUP_COLUMNS} FROM rollups
                 WHERE meter_id = $1 AND width_ms = $2 AND bucket_ms >= $3 AND bucket_ms < $4
                 ORDER BY bucket_ms"
            ),
            &[&meter.as_str(), &width_ms, &from_ms, &to_ms],
        )
        .await?
        .iter()
        .map(read::bucket)
        .collect::<Result<Vec<_>, _>>()?;
    let blocks = match BlockKind::of_rollup(width_ms) {
        // A bucket starting before `to_ms` may hold readings up to a width after it.
        Some(kind) => {
            compact::blocks(client, meter, kind, from_ms, to_ms.saturating_add(width_ms)).await?
        }
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
pub(super) async fn json_in_range<T: serde::de::DeserializeOwned>(
    client: &Client,
    sql: &str,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    client
        .query(sql, &[&meter.as_str(), &from_ms, &to_ms])
        .await?
        .iter()
        .map(|row| read::json(row, what))
        .collect()
}

pub(super) async fn recent_events(
    client: &Client,
    limit: usize,
) -> Result<Vec<(MeterId, EventMessage)>, StoreError> {
    client
        .query(
            "SELECT meter_id, event FROM events ORDER BY ts_ms DESC, meter_id, seq DESC LIMIT $1",
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(read::meter_event)
        .collect()
}

pub(super) async fn dead_letters(
    client: &Client,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    client
        .query(
            &format!("SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT $1"),
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(read::dead_letter)
        .collect()
}
