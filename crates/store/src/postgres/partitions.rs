//! The day partitions of the tables that hold fresh rows (`live`, `intervals`, `rollups`):
//! made on demand before a batch writes into a new day, dropped whole once compaction has
//! moved their rows into blocks (or retention passes them).
//!
//! Fresh rows live at most a day before compaction moves them into blocks (see
//! `crate::compact`) and deletes them (live readings at most an hour). PostgreSQL keeps a
//! deleted row's space in its table until a vacuum, so with one table the space of every
//! past day would linger; with a partition per UTC day, the day's partition is dropped
//! once it is empty and its space goes back to the file system at once (within today,
//! the hourly passes' dead rows are vacuumed). The day, not the month, is the unit
//! because compaction's cut for interval records and rollups moves a day at a time.
//!
//! Partitions are named after their day (`intervals_2026_12_07`) so that the catalogue
//! alone tells which ones lie wholly before a cut. `live` was partitioned by month before
//! (`live_2026_11`); those partitions keep their rows and are dropped the same way. Every
//! table has a default partition, so no row is ever refused: a day whose rows already sit
//! in the default partition stays there (a partition for it could not be attached). Making
//! and dropping take the advisory lock, so hubs sharing a database do not race on the
//! catalogue. When `live` is a TimescaleDB hypertable none of this applies to it:
//! TimescaleDB makes its own chunks.

use super::LOCK_KEY;
use crate::{Batch, StoreError, Stored, to_u64};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use std::collections::HashSet;
use tokio_postgres::{Client, GenericClient};

/// Schema version 8: `intervals` and `rollups` range-partitioned by day like `live`. Their
/// rows go into the default partition, which the next compaction empties.
pub(super) const MIGRATION: &str = r#"
ALTER TABLE intervals RENAME TO intervals_unpartitioned;
ALTER TABLE intervals_unpartitioned RENAME CONSTRAINT intervals_pkey TO intervals_unpartitioned_pkey;
CREATE TABLE intervals (LIKE intervals_unpartitioned, PRIMARY KEY (meter_id, ts_ms, seq))
    PARTITION BY RANGE (ts_ms);
CREATE TABLE intervals_default PARTITION OF intervals DEFAULT;
INSERT INTO intervals SELECT * FROM intervals_unpartitioned;
DROP TABLE intervals_unpartitioned;
ALTER TABLE rollups RENAME TO rollups_unpartitioned;
ALTER TABLE rollups_unpartitioned RENAME CONSTRAINT rollups_pkey TO rollups_unpartitioned_pkey;
CREATE TABLE rollups (LIKE rollups_unpartitioned, PRIMARY KEY (meter_id, width_ms, bucket_ms))
    PARTITION BY RANGE (bucket_ms);
CREATE TABLE rollups_default PARTITION OF rollups DEFAULT;
INSERT INTO rollups SELECT * FROM rollups_unpartitioned;
DROP TABLE rollups_unpartitioned;
"#;

const DAY_MS: i64 = 86_400_000;

/// A table of fresh rows, partitioned by UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Live,
    Intervals,
    Rollups,
}

impl Table {
    const ALL: [Self; 3] = [Self::Live, Self::Intervals, Self::Rollups];

    fn name(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Intervals => "intervals",
            Self::Rollups => "rollups",
        }
    }

    /// The column its partitions are ranges of.
    fn column(self) -> &'static str {
        match self {
            Self::Live | Self::Intervals => "ts_ms",
            Self::Rollups => "bucket_ms",
        }
    }
}

/// What the writer knows about one range-partitioned table.
#[derive(Debug)]
struct Partitioned {
    table: Table,
    /// UTC days (their first ms) whose rows have a place: a partition exists for them, or
    /// the default partition holds that day already.
    placed: HashSet<i64>,
}

/// What the writer knows about the partitions of the fresh-row tables.
#[derive(Debug)]
pub(super) struct Partitions {
    /// The tables that are range-partitioned (`live` is not when it is a hypertable).
    tables: Vec<Partitioned>,
}

impl Partitions {
    /// Looks up how each table is stored.
    pub(super) async fn of(client: &Client) -> Result<Self, StoreError> {
        let mut tables = Vec::new();
        for table in Table::ALL {
            let partitioned: bool = client
                .query_one(
                    "SELECT relkind = 'p' FROM pg_class WHERE oid = $1::text::regclass",
                    &[&table.name()],
                )
                .await?
                .try_get(0)?;
            if partitioned {
                tables.push(Partitioned {
                    table,
                    placed: HashSet::new(),
                });
            }
        }
        Ok(Self { tables })
    }

    /// Makes sure every day the batch's rows fall in has its partition, in a short
    /// transaction of its own: creating a partition locks its table, and that lock must not
    /// be held for the length of a batch. A live reading's rollup buckets (a minute, an
    /// hour, a day, all in UTC) start on its own day.
    pub(super) async fn make(
        &mut self,
        client: &mut Client,
        batch: &Batch,
    ) -> Result<(), StoreError> {
        let mut missing: Vec<(usize, HashSet<i64>)> = Vec::new();
        for (index, partitioned) in self.tables.iter().enumerate() {
            let days: HashSet<i64> = batch
                .messages
                .iter()
                .filter_map(|(_, message)| match (partitioned.table, message) {
                    (Table::Live | Table::Rollups, Stored::Live(reading)) => Some(reading.ts_ms),
                    (Table::Intervals, Stored::Interval(record)) => Some(record.ts_ms),
                    _ => None,
                })
                .filter_map(day_of)
                .filter(|day| !partitioned.placed.contains(day))
                .collect();
            if !days.is_empty() {
                missing.push((index, days));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let transaction = client.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        for (index, days) in &missing {
            let table = self.tables[*index].table;
            let existing = partitions(&transaction, table).await?;
            for &day in days {
                let covered = existing
                    .iter()
                    .any(|(_, span)| span.0 <= day && day < span.1);
                let Some(name) = day_table(table, day) else {
                    continue;
                };
                if !covered && !default_holds(&transaction, table, day).await? {
                    transaction
                        .batch_execute(&format!(
                            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {}
                             FOR VALUES FROM ({day}) TO ({})",
                            table.name(),
                            day + DAY_MS
                        ))
                        .await?;
                }
            }
        }
        transaction.commit().await?;
        for (index, days) in missing {
            self.tables[index].placed.extend(days);
        }
        Ok(())
    }

    /// Drops `live`'s partitions that end at or before `before_ms`, rows and all (pruning
    /// by retention); returns their rows.
    pub(super) async fn drop_live_before(
        &mut self,
        client: &mut Client,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        self.drop_before(client, &[Table::Live], before_ms, Drop::RowsAndAll)
            .await
    }

    /// Drops the partitions of every fresh-row table that end at or before `cut_ms` and
    /// hold no row: compaction has moved their rows into blocks. One that holds a row (a
    /// late record that arrived during the pass) stays for the next pass.
    pub(super) async fn drop_compacted(
        &mut self,
        client: &mut Client,
        cut_ms: i64,
    ) -> Result<(), StoreError> {
        self.drop_before(client, &Table::ALL, cut_ms, Drop::OnlyEmpty)
            .await?;
        Ok(())
    }

    async fn drop_before(
        &mut self,
        client: &mut Client,
        tables: &[Table],
        before_ms: i64,
        drop: Drop,
    ) -> Result<u64, StoreError> {
        let transaction = client.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        let mut rows = 0;
        let mut dropped = Vec::new();
        for partitioned in self.tables.iter().filter(|t| tables.contains(&t.table)) {
            let table = partitioned.table;
            let old: Vec<(String, (i64, i64))> = partitions(&transaction, table)
                .await?
                .into_iter()
                .filter(|(_, span)| span.1 <= before_ms)
                .collect();
            if old.is_empty() {
                continue;
            }
            if drop == Drop::OnlyEmpty {
                // No row may arrive between the check and the drop; readers go on.
                transaction
                    .batch_execute(&format!(
                        "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                        table.name()
                    ))
                    .await?;
            }
            for (name, span) in old {
                let count: i64 = match drop {
                    Drop::OnlyEmpty => {
                        let empty: bool = transaction
                            .query_one(&format!("SELECT NOT EXISTS (SELECT 1 FROM {name})"), &[])
                            .await?
                            .try_get(0)?;
                        if !empty {
                            continue;
                        }
                        0
                    }
                    Drop::RowsAndAll => transaction
                        .query_one(&format!("SELECT count(*) FROM {name}"), &[])
                        .await?
                        .try_get(0)?,
                };
                transaction
                    .batch_execute(&format!("DROP TABLE {name}"))
                    .await?;
                rows += to_u64(count);
                dropped.push((table, span));
            }
        }
        transaction.commit().await?;
        for (table, span) in dropped {
            for partitioned in self.tables.iter_mut().filter(|t| t.table == table) {
                partitioned
                    .placed
                    .retain(|day| !(span.0 <= *day && *day < span.1));
            }
        }
        Ok(rows)
    }
}

/// What dropping a partition may take with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drop {
    /// Only partitions with no row left.
    OnlyEmpty,
    /// The partition, rows and all.
    RowsAndAll,
}

/// A table's partitions other than the default one, by name, with their spans `[start,
/// end)` read from the names.
async fn partitions(
    client: &impl GenericClient,
    table: Table,
) -> Result<Vec<(String, (i64, i64))>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = $1::text::regclass",
            &[&table.name()],
        )
        .await?;
    let mut spans = Vec::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        if let Some(span) = span_of(table, &name) {
            spans.push((name, span));
        }
    }
    Ok(spans)
}

/// Whether `table`'s default partition holds rows of the day starting at `day`.
async fn default_holds(
    client: &impl GenericClient,
    table: Table,
    day: i64,
) -> Result<bool, StoreError> {
    Ok(client
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {}_default WHERE {} >= $1 AND {} < $2)",
                table.name(),
                table.column(),
                table.column()
            ),
            &[&day, &(day + DAY_MS)],
        )
        .await?
        .try_get(0)?)
}

/// The first ms of the UTC day `ts_ms` falls in, if that day gets a partition: years
/// 1970–9999 do, anything else goes to the default partition.
fn day_of(ts_ms: i64) -> Option<i64> {
    let day = ts_ms.div_euclid(DAY_MS) * DAY_MS;
    (0..253_402_300_800_000).contains(&day).then_some(day)
}

/// The UTC date a day's first ms falls on.
fn date_of(day: i64) -> Option<Date> {
    Some(
        jiff::Timestamp::from_millisecond(day)
            .ok()?
            .to_zoned_datetime(TimeZone::UTC)
            .date(),
    )
}

/// The partition's name for a day, e.g. `intervals_2026_12_07`.
fn day_table(table: Table, day: i64) -> Option<String> {
    let date = date_of(day)?;
    Some(format!(
        "{}_{:04}_{:02}_{:02}",
        table.name(),
        date.year(),
        date.month(),
        date.day()
    ))
}

/// The span `[start, end)` a partition's name stands for: a day (`live_2026_12_07`), or a
/// month (`live_2026_11`, as `live` was partitioned before). `None` for the default
/// partition and for names this code did not make.
fn span_of(table: Table, name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix(table.name())?.strip_prefix('_')?;
    let parts: Vec<&str> = rest.split('_').collect();
    let number = |part: &str, width: usize| -> Option<i16> {
        (part.len() == width && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())
            .flatten()
    };
    let millis = |date: Date| -> Option<i64> {
        Some(
            date.to_zoned_datetime(TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_millisecond(),
        )
    };
    match parts.as_slice() {
        [year, month, day] => {
            let date = Date::new(
                number(year, 4)?,
                i8::try_from(number(month, 2)?).ok()?,
                i8::try_from(number(day, 2)?).ok()?,
            )
            .ok()?;
            let start = millis(date)?;
            Some((start, start + DAY_MS))
        }
        [year, month] => {
            let first =
                Date::new(number(year, 4)?, i8::try_from(number(month, 2)?).ok()?, 1).ok()?;
            let next = first.checked_add(jiff::ToSpan::month(1)).ok()?;
            Some((millis(first)?, millis(next)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{DAY_MS, Table, day_of, day_table, span_of};

    /// 2026-11-23 00:00:00 UTC.
    const T0: i64 = 1_795_392_000_000;

    #[test]
    fn days_are_utc_days_from_1970_to_9999() {
        assert_eq!(day_of(T0 + 5), Some(T0));
        assert_eq!(day_of(T0 + DAY_MS - 1), Some(T0));
        assert_eq!(day_of(0), Some(0));
        assert_eq!(
            day_of(-1),
            None,
            "before 1970 goes to the default partition"
        );
        assert_eq!(day_of(253_402_300_800_000), None, "year 10000");
    }

    #[test]
    fn partition_names_round_trip() {
        assert_eq!(
            day_table(Table::Intervals, T0).as_deref(),
            Some("intervals_2026_11_23")
        );
        assert_eq!(
            span_of(Table::Intervals, "intervals_2026_11_23"),
            Some((T0, T0 + DAY_MS))
        );
        assert_eq!(
            day_table(Table::Rollups, 0).as_deref(),
            Some("rollups_1970_01_01")
        );
        // `live`'s month partitions from before: November 2026 has 30 days.
        assert_eq!(
            span_of(Table::Live, "live_2026_11"),
            Some((T0 - 22 * DAY_MS, T0 + 8 * DAY_MS))
        );
        assert_eq!(
            span_of(Table::Live, "live_2028_02").map(|(start, end)| end - start),
            Some(29 * DAY_MS),
            "a leap February"
        );
        assert_eq!(span_of(Table::Live, "live_default"), None);
        assert_eq!(span_of(Table::Live, "live_2026_3"), None);
        assert_eq!(span_of(Table::Live, "live_2026_02_30"), None);
        assert_eq!(span_of(Table::Live, "intervals_2026_11_23"), None);
    }
}
