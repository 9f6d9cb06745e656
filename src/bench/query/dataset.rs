//! The stored history `joule bench query` reads: N meters × D days of 15-minute interval
//! records and the live readings behind the rollups, written through the store's own
//! ingest path (`Store::write_batch`: deduplication, rollups, progress), an hour of the
//! whole fleet per step, as a hub filled by its meters would hold it, with the hub's
//! pruning and compaction as the simulated days pass (hourly through the last day, at
//! midnights before it, which writes the same blocks). The homes are the
//! simulator's register-level meters (`joule_sim::fleet`), as in `joule sim` and the demo.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use joule_protocol::MeterId;
use joule_sim::fleet::{Cadence, RegisterMeter, Report, Start, neighbourhood_home};
use joule_store::tokens;
use joule_store::{Batch, MeterDetails, NewMeter, Store, Stored};
use serde::{Deserialize, Serialize};

use crate::bench::Progress;

const QUARTER_MS: i64 = 900_000;
const HOUR_MS: i64 = 3_600_000;
/// One day, ms.
pub(super) const DAY_MS: i64 = 86_400_000;
/// The neighbourhood the homes come from (fixed: every run writes the same history).
const SEED: u64 = 7;
/// Messages per write transaction (the hub's own batches are smaller; this only makes
/// filling the store quicker, it does not change what is stored).
const BATCH_MESSAGES: usize = 20_000;

/// What a dataset holds; kept as `dataset.json` beside it so a later run can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// The store it is in: `sqlite` or `postgres`.
    pub(crate) backend: String,
    /// Meters, named `bench-q-000000` onwards.
    pub(crate) meters: usize,
    /// Days of history.
    pub(super) days: u32,
    /// The history's end (an hour boundary), Unix ms: the dashboard's "now".
    pub(crate) end_ms: i64,
    /// The consumer who owns every meter.
    pub(super) consumer: String,
    /// Messages written (interval records and live readings).
    pub(super) messages: u64,
    /// Interval records among them.
    pub(super) intervals: u64,
    /// Seconds the writing took.
    pub(super) write_s: f64,
    /// Bytes the writing caused to be written to the storage device (WAL, checkpoints,
    /// compaction included); absent where the kernel does not say, or for a PostgreSQL
    /// store (its server writes, not this process).
    #[serde(default)]
    pub(super) device_bytes_written: Option<u64>,
}

impl Manifest {
    /// The manifest's file in `dir`.
    pub(crate) fn path(dir: &Path) -> std::path::PathBuf {
        dir.join("dataset.json")
    }

    /// The manifest kept in `dir`, if a complete dataset is there.
    pub(crate) fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = Self::path(dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a dataset manifest", path.display())
        })?))
    }
}

/// The id of meter `n`.
pub(crate) fn meter_id(n: usize) -> anyhow::Result<MeterId> {
    Ok(MeterId::new(&format!("bench-q-{n:06}"))?)
}

/// Live readings a meter has: one a minute over the last day (the one-minute chart), one
/// every 15 minutes before that (hour and day rollups).
fn live_due(ts_ms: i64, end_ms: i64) -> bool {
    ts_ms > end_ms - DAY_MS || ts_ms % QUARTER_MS == 0
}

/// Messages a dataset of this shape holds: (interval records, live readings).
pub(super) fn message_counts(meters: usize, days: u32) -> (u64, u64) {
    let meters = meters as u64;
    let quarters = u64::from(days) * 96;
    let live = quarters + 1440 - 96;
    (meters * quarters, meters * live)
}

/// Bytes a SQLite dataset of this shape takes at its peak, with some margin, so a run that
/// cannot fit is refused before it starts. A daily compaction kept a day of rows (at one
/// reading a minute: about 300 bytes each with rollups, measured; counted twice here for
/// the margin, which the hourly compaction of live readings leaves wider); what is
/// compacted takes about 12 bytes per interval record and 80 per live reading with its
/// rollups (measured with 100 meters × 31 days, before minute rollups left the blocks).
pub(super) fn sqlite_bytes_estimate(meters: usize, days: u32) -> u64 {
    let (intervals, _) = message_counts(meters, days);
    let fresh_rows = 2 * 1440;
    let compacted_live = u64::from(days.min(31)) * 96;
    intervals * 12 + meters as u64 * (fresh_rows * 300 + compacted_live * 80)
}

/// Registers the meters (owned by `consumer`) and writes their history ending at `end_ms`,
/// pruning live readings older than `retention_ms` and compacting as the hub does.
pub(super) async fn write(
    store: &Arc<dyn Store>,
    meters: usize,
    days: u32,
    end_ms: i64,
    retention_ms: i64,
    consumer: &str,
    backend: &str,
) -> anyhow::Result<Manifest> {
    let token_hash = tokens::hash(&tokens::generate());
    let hours = i64::from(days) * 24;
    let start_ms = end_ms - hours * HOUR_MS;
    let mut ids = Vec::with_capacity(meters);
    let mut homes = Vec::with_capacity(meters);
    for n in 0..meters {
        let id = meter_id(n)?;
        store
            .add_meter(
                NewMeter {
                    id: id.clone(),
                    details: MeterDetails {
                        name: format!("Bench home {n}"),
                        owner: Some(consumer.to_owned()),
                        ..MeterDetails::default()
                    },
                    token_hash: token_hash.clone(),
                    mosquitto_hash: None,
                },
                end_ms - i64::from(days) * DAY_MS,
            )
            .await?;
        ids.push(id);
        // Power sampled every minute with a live reading each minute; those the history
        // does not keep are dropped below.
        let start = Start {
            ts_ms: start_ms,
            ..Start::default()
        };
        homes.push(RegisterMeter::new(
            neighbourhood_home(SEED, n),
            0.0,
            Cadence::minutely(60),
            start,
        ));
    }
    let (intervals, live) = message_counts(meters, days);
    let total = intervals + live;
    let started = Instant::now();
    let written_before = crate::bench::device_bytes_written();
    // Expected duration only scales the bar; it is corrected as the writing goes.
    let mut progress = Progress::new("writing history", Duration::from_secs(60));
    let mut seqs = vec![0u64; meters];
    let mut reports = Vec::new();
    let mut batch = Batch::default();
    let mut in_flight: Option<tokio::task::JoinHandle<Result<_, joule_store::StoreError>>> = None;
    let mut written = 0u64;
    let mut compaction = 0u64;
    for hour in 1..=hours {
        for ((id, home), seq) in ids.iter().zip(&mut homes).zip(&mut seqs) {
            reports.clear();
            home.advance_to(start_ms + hour * HOUR_MS, &mut reports);
            for report in reports.drain(..) {
                let message = match report {
                    Report::Live(reading) if !live_due(reading.ts_ms, end_ms) => continue,
                    Report::Live(mut reading) => {
                        *seq += 1;
                        reading.seq = *seq;
                        Stored::Live(reading)
                    }
                    Report::Interval(mut record) => {
                        *seq += 1;
                        record.seq = *seq;
                        Stored::Interval(record)
                    }
                };
                batch.messages.push((id.clone(), message));
            }
        }
        let now_ms = start_ms + hour * HOUR_MS;
        // The hub's housekeeping runs every hour. Before the last day, the passes between
        // midnights would each move four readings into the day's block; only the pass
        // after midnight is run there, which writes the same blocks in fewer rewrites.
        let housekeeping = now_ms % DAY_MS == 0 || now_ms > end_ms - DAY_MS;
        if batch.messages.len() >= BATCH_MESSAGES || hour == hours || housekeeping {
            written += batch.messages.len() as u64;
            // The batch is written while the homes make the next one (as a hub's writer
            // stores while its reader takes in more), one batch in flight at a time.
            if let Some(writing) = in_flight.take() {
                writing.await??;
            }
            let (writer, full) = (Arc::clone(store), std::mem::take(&mut batch));
            in_flight = Some(tokio::spawn(async move { writer.write_batch(&full).await }));
            if housekeeping || hour == hours {
                if let Some(writing) = in_flight.take() {
                    writing.await??;
                }
                // What the hub's housekeeping does as the hours go by: live readings past
                // retention go, and the history is compacted (live readings before the
                // hour, the rest before the day), so the store never holds more than an
                // hour of live readings and a day of the rest as rows.
                store.prune_live(now_ms - retention_ms).await?;
                compaction += store.compact(now_ms).await?.rows;
            }
            let fraction = written as f64 / total as f64;
            progress.show_fraction(
                fraction,
                &format!(
                    "{written} of {total} messages, {:.0}/s",
                    written as f64 / started.elapsed().as_secs_f64()
                ),
            );
        }
    }
    let write_s = started.elapsed().as_secs_f64();
    progress.finish(&format!(
        "{written} messages in {write_s:.0} s, {:.0}/s, compaction included ({compaction} rows compacted)",
        written as f64 / write_s
    ));
    Ok(Manifest {
        backend: backend.to_owned(),
        meters,
        days,
        end_ms,
        consumer: consumer.to_owned(),
        messages: written,
        intervals,
        write_s,
        device_bytes_written: match (
            backend,
            written_before,
            crate::bench::device_bytes_written(),
        ) {
            ("sqlite", Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_what_the_homes_report_and_the_history_keeps() {
        let end_ms = 1_795_000_000_000 / HOUR_MS * HOUR_MS;
        let days = 3;
        let start_ms = end_ms - i64::from(days) * DAY_MS;
        let start = Start {
            ts_ms: start_ms,
            ..Start::default()
        };
        let mut home = RegisterMeter::new(
            neighbourhood_home(SEED, 1),
            0.0,
            Cadence::minutely(60),
            start,
        );
        let mut reports = Vec::new();
        home.advance_to(end_ms, &mut reports);
        let (mut intervals, mut live) = (0, 0);
        for report in &reports {
            match report {
                Report::Live(reading) => live += u64::from(live_due(reading.ts_ms, end_ms)),
                Report::Interval(_) => intervals += 1,
            }
        }
        assert_eq!(message_counts(1, days), (intervals, live));
    }
}
