//! The monthly partitions of `live`: made on demand before a batch writes into a new month,
//! dropped whole when pruning passes them.
//!
//! Partitions are named after their month (`live_2026_11`) so that pruning can tell from the
//! catalogue alone which ones lie wholly before the cut-off. Creating and dropping take the
//! advisory lock, so hubs sharing a database do not race on the catalogue. When `live` is a
//! TimescaleDB hypertable none of this runs: TimescaleDB makes its own chunks.

use super::LOCK_KEY;
use crate::{Batch, StoreError, Stored, to_u64};
use std::collections::HashSet;
use tokio_postgres::Client;

/// What the writer knows about `live`'s partitions.
#[derive(Debug)]
pub(super) struct Partitions {
    /// Whether `live` is range-partitioned (otherwise it is a TimescaleDB hypertable).
    partitioned: bool,
    /// Months whose rows have a place: their partition exists, or the default partition
    /// holds that month already.
    months: HashSet<Month>,
}

impl Partitions {
    /// Looks up how `live` is stored.
    pub(super) async fn of(client: &Client) -> Result<Self, StoreError> {
        let partitioned: bool = client
            .query_one(
                "SELECT relkind = 'p' FROM pg_class WHERE oid = 'live'::regclass",
                &[],
            )
            .await?
            .try_get(0)?;
        Ok(Self {
            partitioned,
            months: HashSet::new(),
        })
    }

    /// Makes sure every month the batch's live readings fall in has its partition, in a
    /// short transaction of its own: creating a partition locks `live`, and that lock must
    /// not be held for the length of a batch.
    pub(super) async fn make(
        &mut self,
        client: &mut Client,
        batch: &Batch,
    ) -> Result<(), StoreError> {
        if !self.partitioned {
            return Ok(());
        }
        let missing: HashSet<Month> = batch
            .messages
            .iter()
            .filter_map(|(_, message)| match message {
                Stored::Live(reading) => Month::of(reading.ts_ms),
                _ => None,
            })
            .filter(|month| !self.months.contains(month))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let transaction = client.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        for month in &missing {
            // A month the default partition holds already stays there: a partition for it
            // could not be attached, and its rows are found through `live` all the same.
            let in_default: bool = transaction
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM live_default WHERE ts_ms >= $1 AND ts_ms < $2)",
                    &[&month.start_ms(), &month.end_ms()],
                )
                .await?
                .try_get(0)?;
            if !in_default {
                transaction
                    .batch_execute(&format!(
                        "CREATE TABLE IF NOT EXISTS {} PARTITION OF live
                         FOR VALUES FROM ({}) TO ({})",
                        month.table(),
                        month.start_ms(),
                        month.end_ms()
                    ))
                    .await?;
            }
        }
        transaction.commit().await?;
        self.months.extend(missing);
        Ok(())
    }

    /// Drops the month partitions that end at or before `before_ms`; returns their rows.
    /// Dropping locks `live` against readers, so it gets a short transaction of its own
    /// rather than the one that deletes the remaining rows.
    pub(super) async fn drop_before(
        &mut self,
        client: &mut Client,
        before_ms: i64,
    ) -> Result<u64, StoreError> {
        if !self.partitioned {
            return Ok(0);
        }
        let transaction = client.transaction().await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
            .await?;
        let partitions = transaction
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'live'::regclass",
                &[],
            )
            .await?;
        let mut rows = 0;
        let mut dropped = Vec::new();
        for partition in partitions {
            let name: String = partition.try_get(0)?;
            let Some(month) = Month::from_table(&name).filter(|m| m.end_ms() <= before_ms) else {
                continue;
            };
            let count: i64 = transaction
                .query_one(&format!("SELECT count(*) FROM {}", month.table()), &[])
                .await?
                .try_get(0)?;
            transaction
                .batch_execute(&format!("DROP TABLE {}", month.table()))
                .await?;
            rows += to_u64(count);
            dropped.push(month);
        }
        transaction.commit().await?;
        for month in dropped {
            self.months.remove(&month);
        }
        Ok(rows)
    }
}

/// A calendar month (UTC), the span of one partition of `live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Month {
    year: i64,
    /// 1–12.
    month: i64,
}

const DAY_MS: i64 = 86_400_000;

impl Month {
    /// The month `ts_ms` falls in, if it has a partition: years 1970–9999 do, anything else
    /// goes to the default partition.
    fn of(ts_ms: i64) -> Option<Self> {
        // Howard Hinnant's `civil_from_days`.
        let z = ts_ms.div_euclid(DAY_MS) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (1970..=9999)
            .contains(&year)
            .then_some(Self { year, month })
    }

    /// Its first ms (Howard Hinnant's `days_from_civil` for the 1st).
    fn start_ms(self) -> i64 {
        let year = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = year.div_euclid(400);
        let yoe = year - era * 400;
        let doy = (153 * ((self.month + 9) % 12) + 2) / 5;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * DAY_MS
    }

    /// The first ms of the next month.
    fn end_ms(self) -> i64 {
        let next = if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        };
        next.start_ms()
    }

    /// Its partition's name, e.g. `live_2026_11`.
    fn table(self) -> String {
        format!("live_{:04}_{:02}", self.year, self.month)
    }

    /// The month a partition's name stands for (`None` for the default partition).
    fn from_table(name: &str) -> Option<Self> {
        let (year, month) = name.strip_prefix("live_")?.split_once('_')?;
        let month = Self {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (month.table() == name).then_some(month)
    }
}

#[cfg(test)]
mod tests {
    use super::{DAY_MS, Month};

    #[test]
    fn months_span_their_calendar_days() {
        // 2026-11-23 00:00:00 UTC.
        let month = Month::of(1_795_392_000_000).expect("partitioned");
        assert_eq!((month.year, month.month), (2026, 11));
        assert_eq!(month.start_ms(), 1_795_392_000_000 - 22 * DAY_MS);
        assert_eq!(month.end_ms() - month.start_ms(), 30 * DAY_MS);
        assert_eq!(Month::of(month.end_ms()).map(|m| m.month), Some(12));
        assert_eq!(Month::of(month.end_ms() - 1), Some(month));
        let leap = Month {
            year: 2028,
            month: 2,
        };
        assert_eq!(leap.end_ms() - leap.start_ms(), 29 * DAY_MS);
        let december = Month {
            year: 2026,
            month: 12,
        };
        assert_eq!(
            Month::of(december.end_ms()).map(|m| (m.year, m.month)),
            Some((2027, 1))
        );
        assert_eq!(Month::of(0).map(Month::start_ms), Some(0));
        assert_eq!(
            Month::of(-1),
            None,
            "before 1970 goes to the default partition"
        );
    }

    #[test]
    fn partition_names_round_trip() {
        let month = Month {
            year: 2026,
            month: 3,
        };
        assert_eq!(month.table(), "live_2026_03");
        assert_eq!(Month::from_table("live_2026_03"), Some(month));
        assert_eq!(Month::from_table("live_default"), None);
        assert_eq!(Month::from_table("live_2026_3"), None);
    }
}
