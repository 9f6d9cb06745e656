//! The stored history `joule bench query` reads: N meters × D days of 15-minute interval
//! records and the live readings behind the rollups, written through the store's own
//! ingest path (`Store::write_batch`: deduplication, rollups, progress), an hour of the
//! whole fleet per step, as a hub filled by its meters would hold it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use joule_hub::store::{Batch, MeterDetails, NewMeter, Store, Stored};
use joule_hub::tokens;
use joule_protocol::{
    IntervalRecord, LiveReading, MeterId, PAYLOAD_VERSION, PqCounters, Registers, RelayState,
    TariffRegisters,
};
use serde::{Deserialize, Serialize};

use crate::bench::Progress;

const MINUTE_MS: i64 = 60_000;
const QUARTER_MS: i64 = 900_000;
const HOUR_MS: i64 = 3_600_000;
/// One day, ms.
pub(super) const DAY_MS: i64 = 86_400_000;
/// Messages per write transaction (the hub's own batches are smaller; this only makes
/// filling the store quicker, it does not change what is stored).
const BATCH_MESSAGES: usize = 20_000;

/// What a dataset holds; kept as `dataset.json` beside it so a later run can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Manifest {
    /// The store it is in: `sqlite` or `postgres`.
    pub(super) backend: String,
    /// Meters, named `bench-q-000000` onwards.
    pub(super) meters: usize,
    /// Days of history.
    pub(super) days: u32,
    /// The history's end (an hour boundary), Unix ms: the dashboard's "now".
    pub(super) end_ms: i64,
    /// The consumer who owns every meter.
    pub(super) consumer: String,
    /// Messages written (interval records and live readings).
    pub(super) messages: u64,
    /// Interval records among them.
    pub(super) intervals: u64,
    /// Seconds the writing took.
    pub(super) write_s: f64,
}

impl Manifest {
    /// The manifest's file in `dir`.
    pub(super) fn path(dir: &Path) -> std::path::PathBuf {
        dir.join("dataset.json")
    }

    /// The manifest kept in `dir`, if a complete dataset is there.
    pub(super) fn load(dir: &Path) -> anyhow::Result<Option<Self>> {
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
pub(super) fn meter_id(n: usize) -> anyhow::Result<MeterId> {
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

/// Bytes a SQLite dataset of this shape takes, with some margin (measured: about 650
/// bytes per interval record with its JSON and sequence row, 270 per live reading with its
/// sequence row and rollups), so a run that cannot fit is refused before it starts.
pub(super) fn sqlite_bytes_estimate(meters: usize, days: u32) -> u64 {
    let (intervals, live) = message_counts(meters, days);
    intervals * 700 + live * 300
}

/// One meter's registers as the history is written.
#[derive(Debug, Clone, Default)]
struct MeterState {
    seq: u64,
    /// Imported energy per tariff (0: night, 1: day), mWh.
    import_mwh: [u64; 2],
    export_mwh: u64,
    reactive_mvarh: u64,
    apparent_mvah: u64,
    /// The quarter's lowest and highest voltage, V, and its highest power, W.
    quarter_v: (f64, f64),
    quarter_max_w: f64,
}

/// A household's power at `ts_ms`, W: base load, a morning and an evening peak, some
/// midday solar export for every third meter, and a per-meter wobble.
fn power_w(meter: usize, ts_ms: i64) -> f64 {
    let hour = (ts_ms.rem_euclid(DAY_MS) as f64) / HOUR_MS as f64;
    let wobble = ((ts_ms / MINUTE_MS) as f64 * 0.37 + meter as f64 * 1.3).sin();
    let base = 180.0 + (meter % 7) as f64 * 40.0 + 60.0 * wobble;
    let peaks = 1500.0 * (-(hour - 7.5).powi(2) / 0.8).exp()
        + 2200.0 * (-(hour - 19.0).powi(2) / 2.0).exp();
    let solar = if meter.is_multiple_of(3) {
        2800.0 * (-(hour - 13.0).powi(2) / 6.0).exp()
    } else {
        0.0
    };
    base + peaks - solar
}

fn voltage_v(meter: usize, ts_ms: i64) -> f64 {
    230.0 + 3.0 * ((ts_ms / MINUTE_MS) as f64 * 0.11 + meter as f64).sin()
}

impl MeterState {
    /// Advances one minute ending at `ts_ms`; returns the power over it, W.
    fn advance(&mut self, meter: usize, ts_ms: i64) -> f64 {
        let p_w = power_w(meter, ts_ms);
        let v = voltage_v(meter, ts_ms);
        // W over one minute is W/60 Wh = W × 1000/60 mWh.
        let energy_mwh = (p_w.abs() * 1000.0 / 60.0).round() as u64;
        let day_tariff = usize::from((7..23).contains(&(ts_ms.rem_euclid(DAY_MS) / HOUR_MS)));
        if p_w >= 0.0 {
            self.import_mwh[day_tariff] += energy_mwh;
        } else {
            self.export_mwh += energy_mwh;
        }
        self.reactive_mvarh += energy_mwh / 5;
        self.apparent_mvah += energy_mwh + energy_mwh / 50;
        self.quarter_v = if self.quarter_max_w == 0.0 {
            (v, v)
        } else {
            (self.quarter_v.0.min(v), self.quarter_v.1.max(v))
        };
        self.quarter_max_w = self.quarter_max_w.max(p_w.abs());
        p_w
    }

    fn registers(&self) -> Registers {
        Registers {
            import_mwh: self.import_mwh[0] + self.import_mwh[1],
            export_mwh: self.export_mwh,
            reactive_mvarh: [self.reactive_mvarh, 0, 0, self.reactive_mvarh / 40],
            apparent_import_mvah: self.apparent_mvah,
            apparent_export_mvah: self.export_mwh + self.export_mwh / 50,
        }
    }

    fn live(&mut self, meter: usize, ts_ms: i64, p_w: f64) -> LiveReading {
        self.seq += 1;
        let v = voltage_v(meter, ts_ms);
        let q_var = p_w.abs() / 5.0;
        let s_va = p_w.hypot(q_var);
        LiveReading {
            v: PAYLOAD_VERSION,
            seq: self.seq,
            ts_ms,
            voltage_v: v,
            current_a: s_va / v,
            p_w,
            q_var,
            s_va,
            pf: if s_va > 0.0 { p_w / s_va } else { 1.0 },
            freq_hz: Some(50.0),
            phases: Vec::new(),
            registers: self.registers(),
            tariff: u8::from((7..23).contains(&(ts_ms.rem_euclid(DAY_MS) / HOUR_MS))),
            relay: RelayState::Connected,
        }
    }

    fn interval(&mut self, ts_ms: i64) -> IntervalRecord {
        self.seq += 1;
        let record = IntervalRecord {
            v: PAYLOAD_VERSION,
            seq: self.seq,
            ts_ms,
            interval_s: 900,
            registers: self.registers(),
            tariffs: (0..2)
                .map(|tariff| TariffRegisters {
                    tariff: tariff as u8,
                    import_mwh: self.import_mwh[tariff],
                    export_mwh: if tariff == 1 { self.export_mwh } else { 0 },
                })
                .collect(),
            voltage_min_v: self.quarter_v.0,
            voltage_max_v: self.quarter_v.1,
            voltage_avg_v: f64::midpoint(self.quarter_v.0, self.quarter_v.1),
            max_demand_w: Some(self.quarter_max_w.round()),
            pq: PqCounters::default(),
        };
        self.quarter_max_w = 0.0;
        record
    }
}

/// Registers the meters (owned by `consumer`) and writes their history ending at `end_ms`.
pub(super) async fn write(
    store: &Arc<dyn Store>,
    meters: usize,
    days: u32,
    end_ms: i64,
    consumer: &str,
    backend: &str,
) -> anyhow::Result<Manifest> {
    let token_hash = tokens::hash(&tokens::generate());
    let mut ids = Vec::with_capacity(meters);
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
    }
    let (intervals, live) = message_counts(meters, days);
    let total = intervals + live;
    let hours = i64::from(days) * 24;
    let start_ms = end_ms - hours * HOUR_MS;
    let started = Instant::now();
    // Expected duration only scales the bar; it is corrected as the writing goes.
    let mut progress = Progress::new("writing history", Duration::from_secs(60));
    let mut states = vec![MeterState::default(); meters];
    let mut batch = Batch::default();
    let mut written = 0u64;
    for hour in 0..hours {
        let hour_ms = start_ms + hour * HOUR_MS;
        for (n, (id, state)) in ids.iter().zip(&mut states).enumerate() {
            for minute in 1..=60 {
                let ts_ms = hour_ms + minute * MINUTE_MS;
                let p_w = state.advance(n, ts_ms);
                if live_due(ts_ms, end_ms) {
                    let reading = state.live(n, ts_ms, p_w);
                    batch.messages.push((id.clone(), Stored::Live(reading)));
                }
                if ts_ms % QUARTER_MS == 0 {
                    let record = state.interval(ts_ms);
                    batch.messages.push((id.clone(), Stored::Interval(record)));
                }
            }
        }
        if batch.messages.len() >= BATCH_MESSAGES || hour == hours - 1 {
            written += batch.messages.len() as u64;
            store.write_batch(&batch).await?;
            batch.messages.clear();
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
        "{written} messages in {write_s:.0} s, {:.0}/s",
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_what_the_writer_emits() {
        let end_ms = 1_795_000_000_000 / HOUR_MS * HOUR_MS;
        let days = 3;
        let mut live = 0;
        let mut intervals = 0;
        let mut ts_ms = end_ms - i64::from(days) * DAY_MS + MINUTE_MS;
        while ts_ms <= end_ms {
            live += u64::from(live_due(ts_ms, end_ms));
            intervals += u64::from(ts_ms % QUARTER_MS == 0);
            ts_ms += MINUTE_MS;
        }
        assert_eq!(message_counts(1, days), (intervals, live));
    }

    #[test]
    fn registers_only_grow_and_records_split_by_tariff() {
        let mut state = MeterState::default();
        let mut before = Registers::default();
        for minute in 1..=(2 * 24 * 60) {
            let ts_ms = minute * MINUTE_MS;
            state.advance(0, ts_ms);
            if ts_ms % QUARTER_MS == 0 {
                let record = state.interval(ts_ms);
                assert!(record.registers.import_mwh >= before.import_mwh);
                assert!(record.registers.export_mwh >= before.export_mwh);
                let by_tariff: u64 = record.tariffs.iter().map(|t| t.import_mwh).sum();
                assert_eq!(by_tariff, record.registers.import_mwh);
                before = record.registers;
            }
        }
        assert!(before.export_mwh > 0, "meter 0 has solar");
    }
}
