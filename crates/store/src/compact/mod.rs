//! Compacted history: a meter's records from before the cut (live readings: the start of
//! the hour; the rest: the start of the UTC day), kept as one block per meter, kind and
//! calendar period instead of one row each.
//!
//! A row store pays per record for the meter id, the key, the row header and an index
//! entry, and stores each value whole. Blocks pay those once per period and store each
//! field as a compressed column (`columns.rs`), which is what lets 15-minute data for a
//! fleet be kept for years. Fresh data (this hour's live readings, today's other records)
//! stays in typed rows, where late and out-of-order messages land cheaply; compaction (run
//! by the hub's housekeeping) moves rows older than the cut into their period's block,
//! merging with what the block holds. Readers take both: the blocks overlapping the range they ask, and the rows.
//!
//! This module is pure: what a block holds and how records merge. Each backend does the
//! I/O (`sqlite/compact.rs`, `postgres/compact.rs`).

mod columns;
mod records;
#[cfg(test)]
mod tests;

pub(crate) use records::{Columnar, Compact, LiveSample};

use crate::read::{INTERVAL_COLUMNS, READING_COLUMNS, ROLLUP_COLUMNS};
use crate::{Bucket, StoreError};
use columns::{ColumnReader, ColumnWriter};

/// One day, ms.
const DAY_MS: i64 = 86_400_000;
/// One hour, ms.
const HOUR_MS: i64 = 3_600_000;

/// What a block holds; stored as its code. Code 3 held one-minute rollups before schema
/// version 9 (SQLite) and migration 9 (PostgreSQL): a compacted day's minute buckets come
/// from its live readings now (see [`combine_buckets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum BlockKind {
    /// Interval records, a calendar month (UTC) per block.
    Interval,
    /// Live readings, a UTC day per block.
    Live,
    /// One-hour rollups, a calendar month per block.
    HourRollup,
    /// One-day rollups, a calendar year per block.
    DayRollup,
}

/// How long a block's period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Month,
    Year,
}

/// The migration both backends apply when minute rollups left the blocks: their day's live
/// readings hold them, and go with them at retention.
pub(crate) const DROP_MINUTE_BLOCKS: &str = "DELETE FROM blocks WHERE kind = 3";

/// One minute, ms: the narrowest rollup.
pub(crate) const MINUTE_MS: i64 = 60_000;

impl BlockKind {
    /// Every kind, in the order compaction takes them.
    pub(crate) const ALL: [Self; 4] = [
        Self::Interval,
        Self::Live,
        Self::HourRollup,
        Self::DayRollup,
    ];

    /// The code stored in the `kind` column.
    pub(crate) const fn code(self) -> i16 {
        match self {
            Self::Interval => 1,
            Self::Live => 2,
            Self::HourRollup => 4,
            Self::DayRollup => 5,
        }
    }

    /// The kind whose blocks hold the compacted buckets of a rollup of `width_ms`: hour and
    /// day rollups have blocks of their own; a minute's bucket is read from the live
    /// readings' blocks, which hold every reading it sums.
    pub(crate) fn of_rollup(width_ms: i64) -> Option<Self> {
        match width_ms {
            MINUTE_MS => Some(Self::Live),
            HOUR_MS => Some(Self::HourRollup),
            DAY_MS => Some(Self::DayRollup),
            _ => None,
        }
    }

    /// The statement that takes the fresh rows compaction moves into this kind's blocks:
    /// one meter's (the first parameter) before the cut (the second), deleted and returned
    /// in one statement, so the rows moved are exactly the rows deleted even when another
    /// hub's writer commits a late row meanwhile. `parameter(n)` writes the backend's n-th
    /// placeholder.
    pub(crate) fn take_fresh_rows_sql(self, parameter: impl Fn(u8) -> String) -> String {
        let (meter, cut) = (parameter(1), parameter(2));
        let (table, columns, rows) = match self {
            Self::Interval => (
                "intervals",
                INTERVAL_COLUMNS,
                format!("meter_id = {meter} AND ts_ms < {cut}"),
            ),
            Self::Live => (
                "live",
                READING_COLUMNS,
                format!("meter_id = {meter} AND ts_ms < {cut}"),
            ),
            Self::HourRollup | Self::DayRollup => (
                "rollups",
                ROLLUP_COLUMNS,
                format!(
                    "meter_id = {meter} AND width_ms = {} AND bucket_ms < {cut}",
                    self.bucket_width_ms()
                ),
            ),
        };
        format!("DELETE FROM {table} WHERE {rows} RETURNING {columns}")
    }

    /// A rollup kind's bucket width, ms (0 for the others, which never ask).
    fn bucket_width_ms(self) -> i64 {
        match self {
            Self::HourRollup => HOUR_MS,
            Self::DayRollup => DAY_MS,
            Self::Interval | Self::Live => 0,
        }
    }

    fn period(self) -> Period {
        match self {
            Self::Live => Period::Day,
            Self::Interval | Self::HourRollup => Period::Month,
            Self::DayRollup => Period::Year,
        }
    }

    /// The period `[start, end)` (Unix ms, UTC) of the block that holds a record at `ts_ms`.
    pub(crate) fn period_of(self, ts_ms: i64) -> (i64, i64) {
        let day = ts_ms.div_euclid(DAY_MS) * DAY_MS;
        let calendar = |ts_ms: i64| {
            let date = jiff::Timestamp::from_millisecond(ts_ms)
                .ok()?
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .date();
            let (first, next) = match self.period() {
                Period::Day => return None,
                Period::Month => (
                    date.first_of_month(),
                    date.first_of_month()
                        .checked_add(jiff::ToSpan::month(1))
                        .ok()?,
                ),
                Period::Year => (
                    date.first_of_year(),
                    date.first_of_year()
                        .checked_add(jiff::ToSpan::year(1))
                        .ok()?,
                ),
            };
            let millis = |date: jiff::civil::Date| {
                date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .ok()
                    .map(|zoned| zoned.timestamp().as_millisecond())
            };
            Some((millis(first)?, millis(next)?))
        };
        // Days outside the calendar's range (never a meter's time) fall back to the day.
        calendar(ts_ms).unwrap_or((day, day + DAY_MS))
    }

    /// Records of this kind before this are compacted at `now_ms`. Live readings: the start
    /// of the current hour (UTC), so a day's readings and their minute buckets stay rows for
    /// at most an hour, and today's block is rewritten each hour (a day of readings a
    /// second compresses to about 230 kB). The rest: the start of today, so a month's
    /// interval and hour-rollup blocks are rewritten once a day, not every hour, for rows
    /// that are few (96 interval records and 24 hour buckets a meter a day). A record that
    /// arrives late for a compacted period lands in the rows, reads with the block, and
    /// joins it at the next pass.
    pub(crate) fn cut_ms(self, now_ms: i64) -> i64 {
        match self {
            Self::Live => now_ms.div_euclid(HOUR_MS) * HOUR_MS,
            Self::Interval | Self::HourRollup | Self::DayRollup => day_start_ms(now_ms),
        }
    }
}

/// Where a reader's records are: the table of fresh rows, the columns it selects, and the
/// kind of block that holds the compacted ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) kind: BlockKind,
}

impl Source {
    /// Live readings.
    pub(crate) fn live() -> Self {
        Self {
            table: "live",
            columns: READING_COLUMNS,
            kind: BlockKind::Live,
        }
    }

    /// Interval records, or the `columns` of them a projection reads.
    pub(crate) fn intervals(columns: &'static str) -> Self {
        Self {
            table: "intervals",
            columns,
            kind: BlockKind::Interval,
        }
    }
}

/// The start of the UTC day `now_ms` falls in: the other kinds' cut, and how far
/// PostgreSQL's day partitions are emptied by a pass.
pub(crate) fn day_start_ms(now_ms: i64) -> i64 {
    now_ms.div_euclid(DAY_MS) * DAY_MS
}

/// The `end_ms` a block is stored with: just after its `newest` record, not its period's
/// end. Readers skip a block that ends at or before what they ask for, so today's live
/// block, rewritten each hour, is not decoded for the newest reading, which the rows
/// after it hold.
pub(crate) fn block_end_ms<T: Columnar>(newest: &T) -> i64 {
    newest.ts_ms().saturating_add(1)
}

/// A block of `records`, which must all lie in one period.
pub(crate) fn encode<T: Compact>(records: &[T]) -> Result<Vec<u8>, StoreError> {
    let mut columns = ColumnWriter::new(records.len());
    T::write(records, &mut columns);
    columns.finish()
}

/// The records of a block written by [`encode`].
pub(crate) fn decode<T: Columnar>(bytes: &[u8]) -> Result<Vec<T>, StoreError> {
    let mut columns = ColumnReader::new(bytes)?;
    T::read(&mut columns)
}

/// A block's records with fresh ones merged in, in order: records with the same key are
/// one (a bucket's parts are folded; a record stored twice is kept once).
pub(crate) fn merge<T: Columnar>(mut records: Vec<T>, fresh: Vec<T>) -> Vec<T> {
    records.extend(fresh);
    records.sort_by_key(Columnar::order_key);
    let mut merged: Vec<T> = Vec::with_capacity(records.len());
    for record in records {
        match merged.last_mut() {
            Some(last) if last.order_key() == record.order_key() => last.absorb(&record),
            _ => merged.push(record),
        }
    }
    merged
}

/// Records grouped by the period `[start, end)` of the block each belongs in.
pub(crate) fn by_period<T: Compact>(
    kind: BlockKind,
    records: Vec<T>,
) -> std::collections::BTreeMap<(i64, i64), Vec<T>> {
    let mut periods: std::collections::BTreeMap<(i64, i64), Vec<T>> = Default::default();
    for record in records {
        periods
            .entry(kind.period_of(record.ts_ms()))
            .or_default()
            .push(record);
    }
    periods
}

/// The records at or after `from_ms`, and how many went (pruning a block the cut falls in).
pub(crate) fn keep_from<T: Columnar>(records: Vec<T>, from_ms: i64) -> (Vec<T>, u64) {
    let before = records.len();
    let kept: Vec<T> = records
        .into_iter()
        .filter(|record| record.ts_ms() >= from_ms)
        .collect();
    let gone = (before - kept.len()) as u64;
    (kept, gone)
}

/// What a reader asks of one kind in `[from_ms, to_ms)`: the records of the blocks that
/// overlap it and the fresh rows, in order (a bucket split between a block and a row read
/// as one).
pub(crate) fn combine<T: Columnar>(
    blocks: &[Vec<u8>],
    rows: Vec<T>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::new();
    for block in blocks {
        let mut decoded = decode::<T>(block)?;
        decoded.retain(|record| (from_ms..to_ms).contains(&record.ts_ms()));
        if records.is_empty() {
            records = decoded;
        } else {
            records.append(&mut decoded);
        }
    }
    if records.is_empty() {
        return Ok(rows);
    }
    // Blocks hold their records in order, one per key, and the blocks of a kind cover
    // periods one after the other: with no rows to fold in they are the answer as read.
    if rows.is_empty() {
        return Ok(records);
    }
    Ok(merge(records, rows))
}

/// The `DELETE` of one meter's (first parameter) minute rollup rows before the cut (second
/// parameter), which compaction drops rather than moves: the live readings' blocks hold
/// their buckets (see [`BlockKind::of_rollup`]).
pub(crate) fn minute_rollups_delete_sql(parameter: impl Fn(u8) -> String) -> String {
    format!(
        "DELETE FROM rollups WHERE meter_id = {} AND width_ms = {MINUTE_MS} AND bucket_ms < {}",
        parameter(1),
        parameter(2)
    )
}

/// What a series reader asks of a rollup of `width_ms` in `[from_ms, to_ms)` (bucket
/// starts): the compacted buckets in `blocks` (of the kind [`BlockKind::of_rollup`] names)
/// and the fresh `rows`, as one. A minute's compacted buckets are summed from the live
/// readings the blocks hold, exactly as ingest sums them into rows.
pub(crate) fn combine_buckets(
    width_ms: i64,
    blocks: &[Vec<u8>],
    rows: Vec<Bucket>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Bucket>, StoreError> {
    if BlockKind::of_rollup(width_ms) != Some(BlockKind::Live) {
        return combine(blocks, rows, from_ms, to_ms);
    }
    let mut buckets = Vec::new();
    for block in blocks {
        for sample in decode::<LiveSample>(block)? {
            let start_ms = sample.ts_ms.div_euclid(width_ms) * width_ms;
            if (from_ms..to_ms).contains(&start_ms) {
                buckets.push(Bucket {
                    bucket_ms: start_ms,
                    count: 1,
                    p_sum: sample.p_w,
                    p_min: sample.p_w,
                    p_max: sample.p_w,
                    v_sum: sample.voltage_v,
                    v_min: sample.voltage_v,
                    v_max: sample.voltage_v,
                    import_first: sample.import_mwh,
                    import_last: sample.import_mwh,
                    export_first: sample.export_mwh,
                    export_last: sample.export_mwh,
                });
            }
        }
    }
    if buckets.is_empty() {
        return Ok(rows);
    }
    Ok(merge(buckets, rows))
}

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionOutcome {
    /// Meters whose rows were compacted.
    pub meters: u64,
    /// Rows moved into blocks (interval records, live readings, rollup buckets).
    pub rows: u64,
    /// Blocks written (new or rewritten).
    pub blocks: u64,
}

impl CompactionOutcome {
    /// Adds another part of the pass (one meter's) to this one.
    pub(crate) fn add(&mut self, other: Self) {
        self.meters += other.meters;
        self.rows += other.rows;
        self.blocks += other.blocks;
    }
}
