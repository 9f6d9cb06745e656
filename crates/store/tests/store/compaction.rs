//! Compaction changes nothing a reader sees: random interval records, live readings (single
//! and three-phase) and their rollups read back exactly the same before and after their
//! rows move into blocks, late data for a compacted period merges in, and pruning reaches
//! into blocks.

use super::{T0, batch, id, reading};
use joule_protocol::{
    IntervalRecord, LiveReading, MeterId, PAYLOAD_VERSION, PhaseReading, PqCounters, Registers,
    RelayState, TariffRegisters,
};
use joule_store::{IntervalRegisters, Resolution, Store, Stored};
use rand::{RngExt, SeedableRng};
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
const DAYS: i64 = 40;

/// A value with two decimals, as meters send.
fn decimal(rng: &mut impl RngExt) -> f64 {
    f64::from(rng.random_range(-5_000_000..5_000_000)) / 100.0
}

/// Any finite float: raw bits, or a value with a few decimals. Not for power and voltage,
/// whose rollups add them up (random bits would overflow the sums).
fn value(rng: &mut impl RngExt) -> f64 {
    if rng.random_bool(0.5) {
        decimal(rng)
    } else {
        loop {
            let x = f64::from_bits(rng.random::<u64>());
            if x.is_finite() {
                return x;
            }
        }
    }
}

/// A register value the store keeps exactly (it holds i64).
fn register(rng: &mut impl RngExt, floor: u64) -> u64 {
    floor + rng.random_range(0..5_000)
}

fn history(rng: &mut impl RngExt, three_phase: bool) -> Vec<Stored> {
    let mut messages = Vec::new();
    let (mut seq, mut import_mwh) = (0u64, rng.random_range(0..1u64 << 40));
    let mut ts_ms = T0 - DAYS * DAY_MS;
    while ts_ms < T0 {
        ts_ms += 900_000;
        seq += 1;
        import_mwh = register(rng, import_mwh);
        let registers = Registers {
            import_mwh,
            export_mwh: register(rng, 0),
            reactive_mvarh: [register(rng, 0), 0, register(rng, 0), 0],
            apparent_import_mvah: register(rng, import_mwh),
            apparent_export_mvah: 0,
        };
        let live = LiveReading {
            v: PAYLOAD_VERSION,
            seq,
            ts_ms: ts_ms - rng.random_range(0..900_000),
            voltage_v: decimal(rng),
            current_a: value(rng),
            p_w: decimal(rng),
            q_var: value(rng),
            s_va: value(rng),
            pf: value(rng),
            freq_hz: rng.random_bool(0.9).then(|| value(rng)),
            phases: if three_phase {
                (0..3)
                    .map(|_| PhaseReading {
                        voltage_v: value(rng),
                        current_a: value(rng),
                        p_w: value(rng),
                        q_var: value(rng),
                        s_va: value(rng),
                        pf: value(rng),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            registers,
            tariff: rng.random_range(0..4),
            relay: if rng.random_bool(0.95) {
                RelayState::Connected
            } else {
                RelayState::ReadyForReconnection
            },
        };
        messages.push(Stored::Live(live));
        seq += 1;
        messages.push(Stored::Interval(IntervalRecord {
            v: PAYLOAD_VERSION,
            seq,
            ts_ms,
            interval_s: 900,
            registers,
            tariffs: if rng.random_bool(0.5) {
                vec![TariffRegisters {
                    tariff: 1,
                    import_mwh,
                    export_mwh: registers.export_mwh,
                }]
            } else {
                Vec::new()
            },
            voltage_min_v: value(rng),
            voltage_max_v: value(rng),
            voltage_avg_v: value(rng),
            max_demand_w: rng.random_bool(0.5).then(|| value(rng)),
            pq: PqCounters {
                sags: rng.random_range(0..3),
                swells: 0,
                interruptions: rng.random_range(0..2),
            },
        }));
    }
    messages
}

/// Everything a reader can ask of a meter over the history.
#[derive(Debug, PartialEq)]
struct Seen {
    intervals: Vec<IntervalRecord>,
    readings: Vec<LiveReading>,
    latest: Option<LiveReading>,
    series: Vec<Vec<joule_store::SeriesPoint>>,
}

async fn seen(store: &Arc<dyn Store>, meter: &MeterId) -> Seen {
    let (from, to) = (T0 - (DAYS + 1) * DAY_MS, T0 + DAY_MS);
    let mut series = Vec::new();
    for resolution in [Resolution::Minute, Resolution::Hour, Resolution::Day] {
        series.push(
            store
                .series(meter, resolution, from, to)
                .await
                .expect("series"),
        );
    }
    // A window inside the history, cutting through blocks.
    series.push(
        store
            .series(
                meter,
                Resolution::Hour,
                T0 - 17 * DAY_MS + 3_600_000,
                T0 - 3 * DAY_MS,
            )
            .await
            .expect("series"),
    );
    let intervals = store.intervals(meter, from, to).await.expect("intervals");
    let registers = store
        .interval_registers(meter, from, to)
        .await
        .expect("interval registers");
    assert_eq!(
        registers,
        intervals
            .iter()
            .map(IntervalRegisters::from)
            .collect::<Vec<_>>(),
        "billing's registers are the records'"
    );
    Seen {
        intervals,
        readings: store.readings(meter, from, to).await.expect("readings"),
        latest: store.latest_reading(meter).await.expect("latest"),
        series,
    }
}

pub(super) async fn compaction_changes_nothing_readers_see(store: Arc<dyn Store>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(16);
    let meters = [id("single"), id("three")];
    for (n, meter) in meters.iter().enumerate() {
        let messages = history(&mut rng, n == 1);
        for chunk in messages.chunks(500) {
            let chunk: Vec<_> = chunk.iter().map(|m| (meter.clone(), m.clone())).collect();
            store.write_batch(&batch(chunk)).await.expect("write");
        }
    }
    let mut before = Vec::new();
    for meter in &meters {
        before.push(seen(&store, meter).await);
    }
    let registers_before = store.latest_registers().await.expect("registers");
    let outcome = store.compact(T0 + DAY_MS / 2).await.expect("compact");
    assert_eq!(outcome.meters, 2);
    assert!(outcome.rows > 0 && outcome.blocks > 0, "{outcome:?}");
    for (meter, before) in meters.iter().zip(&before) {
        assert_eq!(
            &seen(&store, meter).await,
            before,
            "{meter} after compaction"
        );
    }
    assert_eq!(
        store.latest_registers().await.expect("registers"),
        registers_before
    );
    // Nothing left to move: a second pass writes nothing.
    assert_eq!(store.compact(T0 + DAY_MS / 2).await.expect("again").rows, 0);

    // A reading that arrives late for a compacted day lands in rows, reads with the block,
    // and joins the block at the next pass.
    let meter = &meters[0];
    let mut late = before[0].readings[10].clone();
    late.seq = 1_000_000;
    late.ts_ms += 1;
    store
        .write_batch(&batch(vec![(meter.clone(), Stored::Live(late.clone()))]))
        .await
        .expect("late");
    let with_late = seen(&store, meter).await;
    assert!(with_late.readings.contains(&late));
    assert_eq!(with_late.readings.len(), before[0].readings.len() + 1);
    assert!(
        store
            .compact(T0 + DAY_MS / 2)
            .await
            .expect("late pass")
            .rows
            > 0
    );
    assert_eq!(seen(&store, meter).await, with_late);

    // Pruning live readings reaches into the blocks, cutting one in the middle.
    let cut_ms = T0 - 20 * DAY_MS + 12 * 3_600_000;
    let expected = with_late
        .readings
        .iter()
        .filter(|r| r.ts_ms < cut_ms)
        .count()
        + before[1]
            .readings
            .iter()
            .filter(|r| r.ts_ms < cut_ms)
            .count();
    assert_eq!(
        store.prune_live(cut_ms).await.expect("prune"),
        expected as u64
    );
    let after = seen(&store, meter).await;
    assert!(after.readings.iter().all(|r| r.ts_ms >= cut_ms));
    assert_eq!(
        after.readings.len(),
        with_late
            .readings
            .iter()
            .filter(|r| r.ts_ms >= cut_ms)
            .count()
    );
    assert_eq!(
        after.intervals, with_late.intervals,
        "intervals are not pruned"
    );
    assert_eq!(
        after.series[0],
        with_late.series[0]
            .iter()
            .filter(|point| point.ts_ms >= cut_ms)
            .cloned()
            .collect::<Vec<_>>(),
        "minute rollups go with their readings"
    );
    assert_eq!(
        after.series[1..],
        with_late.series[1..],
        "hour and day rollups are not pruned"
    );

    // With every row compacted, a late record and reading are the only rows, and the
    // newest registers are still the compacted ones.
    store.compact(T0 + 2 * DAY_MS).await.expect("compact all");
    let mut late_record = before[0].intervals[5].clone();
    late_record.seq = 2_000_000;
    late.seq = 2_000_001;
    late.ts_ms += 1;
    store
        .write_batch(&batch(vec![
            (meter.clone(), Stored::Interval(late_record)),
            (meter.clone(), Stored::Live(late)),
        ]))
        .await
        .expect("late again");
    assert_eq!(
        store.latest_registers().await.expect("registers"),
        registers_before,
        "a late row is not the newest"
    );
}

/// Within today, a pass compacts the live readings before the hour and leaves the rest:
/// the hour's readings, today's interval records and rollups.
pub(super) async fn the_hours_readings_are_compacted_today(store: Arc<dyn Store>) {
    let meter = id("hourly");
    let mut messages = Vec::new();
    // 00:00 to 02:59 at one a minute, and an interval record every 15 minutes.
    for minute in 0..180u64 {
        let ts_ms = T0 + i64::try_from(minute).expect("small") * 60_000;
        messages.push((
            meter.clone(),
            Stored::Live(reading(
                2 * minute + 1,
                ts_ms,
                500.0 + minute as f64,
                1_000 + minute,
            )),
        ));
        if minute % 15 == 14 {
            let mut record =
                joule_testkit::interval_record(2 * minute + 2, ts_ms + 60_000, 1_000 + minute, 0);
            record.interval_s = 900;
            messages.push((meter.clone(), Stored::Interval(record)));
        }
    }
    store.write_batch(&batch(messages)).await.expect("write");
    let before = seen(&store, &meter).await;
    let outcome = store
        .compact(T0 + 2 * 3_600_000 + 30 * 60_000)
        .await
        .expect("compact");
    assert_eq!(
        outcome.rows, 120,
        "the readings of 00:00 to 01:59, nothing else"
    );
    assert_eq!(seen(&store, &meter).await, before);
    assert_eq!(
        before.latest.as_ref().map(|r| r.ts_ms),
        Some(T0 + 179 * 60_000)
    );
    // The next hour's pass moves the next hour's readings.
    let outcome = store.compact(T0 + 3 * 3_600_000).await.expect("compact");
    assert_eq!(outcome.rows, 60);
    assert_eq!(seen(&store, &meter).await, before);
}
