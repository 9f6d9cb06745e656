//! Compacted history: a meter's records older than a day, kept as one block per meter,
//! kind and calendar period instead of one row each.
//!
//! A row store pays per record for the meter id, the key, the row header and an index
//! entry, and stores each value whole. Blocks pay those once per period and store each
//! field as a compressed column (`columns.rs`), which is what lets 15-minute data for a
//! fleet be kept for years. Fresh data (the last one to two days) stays in typed rows, where
//! late and out-of-order messages land cheaply; compaction (run by the hub's housekeeping)
//! moves rows older than the cut into their period's block, merging with what the block
//! holds. Readers take both: the blocks overlapping the range they ask, and the rows.
//!
//! This module is pure: what a block holds and how records merge. Each backend does the
//! I/O (`sqlite/compact.rs`, `postgres/compact.rs`).

mod columns;
mod records;
#[cfg(test)]
mod tests;

pub(crate) use records::Compact;

use crate::StoreError;
use columns::{ColumnReader, ColumnWriter};

/// One day, ms.
const DAY_MS: i64 = 86_400_000;

/// What a block holds; stored as its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum BlockKind {
    /// Interval records, a calendar month (UTC) per block.
    Interval,
    /// Live readings, a UTC day per block.
    Live,
    /// One-minute rollups, a UTC day per block.
    MinuteRollup,
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

impl BlockKind {
    /// Every kind, in the order compaction takes them.
    pub(crate) const ALL: [Self; 5] = [
        Self::Interval,
        Self::Live,
        Self::MinuteRollup,
        Self::HourRollup,
        Self::DayRollup,
    ];

    /// The code stored in the `kind` column.
    pub(crate) const fn code(self) -> i16 {
        match self {
            Self::Interval => 1,
            Self::Live => 2,
            Self::MinuteRollup => 3,
            Self::HourRollup => 4,
            Self::DayRollup => 5,
        }
    }

    /// The rollup kind of a bucket width, ms.
    pub(crate) fn of_rollup(width_ms: i64) -> Option<Self> {
        match width_ms {
            60_000 => Some(Self::MinuteRollup),
            3_600_000 => Some(Self::HourRollup),
            86_400_000 => Some(Self::DayRollup),
            _ => None,
        }
    }

    /// The bucket width of a rollup kind, ms.
    pub(crate) fn rollup_width_ms(self) -> Option<i64> {
        match self {
            Self::MinuteRollup => Some(60_000),
            Self::HourRollup => Some(3_600_000),
            Self::DayRollup => Some(86_400_000),
            Self::Interval | Self::Live => None,
        }
    }

    fn period(self) -> Period {
        match self {
            Self::Live | Self::MinuteRollup => Period::Day,
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
}

/// Records before this are compacted at `now_ms`: the start of yesterday (UTC), so rows
/// stay fresh for one to two days and a block's day is closed when it is written.
pub(crate) fn cut_ms(now_ms: i64) -> i64 {
    (now_ms.div_euclid(DAY_MS) - 1) * DAY_MS
}

/// A block of `records`, which must all lie in one period.
pub(crate) fn encode<T: Compact>(records: &[T]) -> Result<Vec<u8>, StoreError> {
    let mut columns = ColumnWriter::new(records.len());
    T::write(records, &mut columns);
    columns.finish()
}

/// The records of a block written by [`encode`].
pub(crate) fn decode<T: Compact>(bytes: &[u8]) -> Result<Vec<T>, StoreError> {
    let mut columns = ColumnReader::new(bytes)?;
    T::read(&mut columns)
}

/// A block's records with fresh ones merged in, in order: records with the same key are
/// one (a bucket's parts are folded; a record stored twice is kept once).
pub(crate) fn merge<T: Compact>(mut records: Vec<T>, fresh: Vec<T>) -> Vec<T> {
    records.extend(fresh);
    records.sort_by_key(Compact::order_key);
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
pub(crate) fn keep_from<T: Compact>(records: Vec<T>, from_ms: i64) -> (Vec<T>, u64) {
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
pub(crate) fn combine<T: Compact>(
    blocks: &[Vec<u8>],
    rows: Vec<T>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<T>, StoreError> {
    let mut records = Vec::new();
    for block in blocks {
        records.extend(
            decode::<T>(block)?
                .into_iter()
                .filter(|record| (from_ms..to_ms).contains(&record.ts_ms())),
        );
    }
    if records.is_empty() {
        return Ok(rows);
    }
    Ok(merge(records, rows))
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
