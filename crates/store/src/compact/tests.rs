//! Blocks read back exactly what was written, for random records and for the simulator's
//! homes; and they are small.

use super::*;
use crate::{Bucket, IntervalRegisters};
use joule_protocol::{
    IntervalRecord, LiveReading, PhaseReading, PqCounters, Registers, RelayState, TariffRegisters,
};
use proptest::prelude::*;

/// Any float JSON can carry (no NaN), or a value with a few decimals as meters send.
fn value() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{INFINITE, NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO | INFINITE,
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
    ]
}

fn registers() -> impl Strategy<Value = Registers> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<[u64; 4]>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                import_mwh,
                export_mwh,
                reactive_mvarh,
                apparent_import_mvah,
                apparent_export_mvah,
            )| {
                Registers {
                    import_mwh,
                    export_mwh,
                    reactive_mvarh,
                    apparent_import_mvah,
                    apparent_export_mvah,
                }
            },
        )
}

fn interval() -> impl Strategy<Value = IntervalRecord> {
    (
        (any::<u32>(), any::<u64>(), any::<i64>(), any::<u32>()),
        registers(),
        prop::collection::vec(
            (any::<u8>(), any::<u64>(), any::<u64>()).prop_map(|(tariff, i, e)| TariffRegisters {
                tariff,
                import_mwh: i,
                export_mwh: e,
            }),
            0..4,
        ),
        (value(), value(), value(), prop::option::of(value())),
        any::<(u32, u32, u32)>(),
    )
        .prop_map(
            |((v, seq, ts_ms, interval_s), registers, tariffs, volts, pq)| IntervalRecord {
                v,
                seq,
                ts_ms,
                interval_s,
                registers,
                tariffs,
                voltage_min_v: volts.0,
                voltage_max_v: volts.1,
                voltage_avg_v: volts.2,
                max_demand_w: volts.3,
                pq: PqCounters {
                    sags: pq.0,
                    swells: pq.1,
                    interruptions: pq.2,
                },
            },
        )
}

fn phase() -> impl Strategy<Value = PhaseReading> {
    prop::array::uniform6(value()).prop_map(|[voltage_v, current_a, p_w, q_var, s_va, pf]| {
        PhaseReading {
            voltage_v,
            current_a,
            p_w,
            q_var,
            s_va,
            pf,
        }
    })
}

fn live() -> impl Strategy<Value = LiveReading> {
    (
        (any::<u32>(), any::<u64>(), any::<i64>()),
        prop::array::uniform6(value()),
        prop::option::of(value()),
        prop::collection::vec(phase(), 0..4),
        registers(),
        any::<u8>(),
        prop_oneof![
            Just(RelayState::Connected),
            Just(RelayState::Disconnected),
            Just(RelayState::ReadyForReconnection)
        ],
    )
        .prop_map(
            |(
                (v, seq, ts_ms),
                [voltage_v, current_a, p_w, q_var, s_va, pf],
                freq_hz,
                phases,
                registers,
                tariff,
                relay,
            )| {
                LiveReading {
                    v,
                    seq,
                    ts_ms,
                    voltage_v,
                    current_a,
                    p_w,
                    q_var,
                    s_va,
                    pf,
                    freq_hz,
                    phases,
                    registers,
                    tariff,
                    relay,
                }
            },
        )
}

fn bucket() -> impl Strategy<Value = Bucket> {
    (
        any::<i64>(),
        any::<u64>(),
        prop::array::uniform6(value()),
        any::<[u64; 4]>(),
    )
        .prop_map(|(bucket_ms, count, f, r)| Bucket {
            bucket_ms,
            count,
            p_sum: f[0],
            p_min: f[1],
            p_max: f[2],
            v_sum: f[3],
            v_min: f[4],
            v_max: f[5],
            import_first: r[0],
            import_last: r[1],
            export_first: r[2],
            export_last: r[3],
        })
}

proptest! {
    #[test]
    fn interval_records_read_back_exactly(records in prop::collection::vec(interval(), 0..60)) {
        let bytes = encode(&records).expect("encode");
        prop_assert_eq!(decode::<IntervalRecord>(&bytes).expect("decode"), records);
    }

    #[test]
    fn interval_registers_read_the_records_fields(records in prop::collection::vec(interval(), 0..60)) {
        let bytes = encode(&records).expect("encode");
        let expected: Vec<IntervalRegisters> = records.iter().map(IntervalRegisters::from).collect();
        prop_assert_eq!(decode::<IntervalRegisters>(&bytes).expect("decode"), expected);
    }

    #[test]
    fn live_samples_read_the_readings_fields(records in prop::collection::vec(live(), 0..60)) {
        let bytes = encode(&records).expect("encode");
        let samples = decode::<LiveSample>(&bytes).expect("decode");
        prop_assert_eq!(samples.len(), records.len());
        for (sample, reading) in samples.iter().zip(&records) {
            prop_assert_eq!(sample.seq, reading.seq);
            prop_assert_eq!(sample.ts_ms, reading.ts_ms);
            prop_assert_eq!(sample.voltage_v.to_bits(), reading.voltage_v.to_bits());
            prop_assert_eq!(sample.p_w.to_bits(), reading.p_w.to_bits());
            prop_assert_eq!(sample.import_mwh, reading.registers.import_mwh);
            prop_assert_eq!(sample.export_mwh, reading.registers.export_mwh);
        }
    }

    #[test]
    fn live_readings_read_back_exactly(records in prop::collection::vec(live(), 0..60)) {
        let bytes = encode(&records).expect("encode");
        prop_assert_eq!(decode::<LiveReading>(&bytes).expect("decode"), records);
    }

    #[test]
    fn rollup_buckets_read_back_exactly(records in prop::collection::vec(bucket(), 0..60)) {
        let bytes = encode(&records).expect("encode");
        prop_assert_eq!(decode::<Bucket>(&bytes).expect("decode"), records);
    }

    #[test]
    fn a_damaged_block_is_an_error(records in prop::collection::vec(live(), 1..8), cut in 0usize..10_000) {
        let bytes = encode(&records).expect("encode");
        let cut = cut % bytes.len();
        prop_assert!(decode::<LiveReading>(&bytes[..cut]).is_err());
    }
}

#[test]
fn merging_orders_records_and_folds_a_buckets_parts() {
    let point = |ts_ms: i64, p_w: f64| crate::SeriesPoint {
        ts_ms,
        count: 1,
        p_avg_w: p_w,
        p_min_w: p_w,
        p_max_w: p_w,
        v_avg_v: 230.0,
        v_min_v: 230.0,
        v_max_v: 230.0,
        import_first_mwh: 5,
        import_last_mwh: 5,
        export_first_mwh: 0,
        export_last_mwh: 0,
    };
    let compacted = vec![
        Bucket::of(&point(0, 100.0)),
        Bucket::of(&point(60_000, 50.0)),
    ];
    let late = vec![
        Bucket::of(&point(0, 300.0)),
        Bucket::of(&point(-60_000, 10.0)),
    ];
    let merged = merge(compacted, late);
    assert_eq!(
        merged.iter().map(|b| b.bucket_ms).collect::<Vec<_>>(),
        [-60_000, 0, 60_000]
    );
    assert_eq!(merged[1].count, 2);
    assert_eq!(merged[1].point().p_avg_w, 200.0);
    assert_eq!(merged[1].p_max, 300.0);
}

#[test]
fn periods_are_utc_days_months_and_years() {
    // 2026-02-14T13:00:00Z.
    let ts_ms = 1_771_074_000_000;
    let day = (1_771_027_200_000, 1_771_113_600_000);
    assert_eq!(BlockKind::Live.period_of(ts_ms), day);
    // February 2026 has 28 days.
    let month = (1_769_904_000_000, 1_772_323_200_000);
    assert_eq!(BlockKind::Interval.period_of(ts_ms), month);
    assert_eq!(BlockKind::HourRollup.period_of(ts_ms), month);
    assert_eq!(
        BlockKind::DayRollup.period_of(ts_ms),
        (1_767_225_600_000, 1_798_761_600_000)
    );
    // The last millisecond of a month belongs to it, the next to the next month.
    assert_eq!(BlockKind::Interval.period_of(month.1 - 1), month);
    assert_eq!(BlockKind::Interval.period_of(month.1).0, month.1);
    // 13:25: live readings are compacted up to 13:00, the rest up to midnight.
    let now_ms = ts_ms + 25 * 60_000;
    assert_eq!(
        BlockKind::Live.cut_ms(now_ms),
        ts_ms,
        "the start of the hour"
    );
    for kind in [
        BlockKind::Interval,
        BlockKind::HourRollup,
        BlockKind::DayRollup,
    ] {
        assert_eq!(kind.cut_ms(now_ms), day.0, "the start of the UTC day");
    }
}

#[test]
fn a_block_ends_just_after_its_newest_record() {
    let newest = joule_testkit::interval_record(2, 1_800_000, 0, 0);
    assert_eq!(block_end_ms(&newest), 1_800_001);
}

/// A month of one simulated home's interval records and a day of its live readings, as
/// `joule sim` and the demo make them.
fn simulated_home(seed: u64) -> (Vec<IntervalRecord>, Vec<LiveReading>) {
    use joule_sim::fleet::{Cadence, RegisterMeter, Report, Start, neighbourhood_home};
    let start_ms = 1_793_491_200_000;
    let mut home = RegisterMeter::new(
        neighbourhood_home(7, usize::try_from(seed).unwrap_or(0)),
        0.0,
        Cadence::minutely(60),
        Start {
            ts_ms: start_ms,
            ..Start::default()
        },
    );
    let mut reports = Vec::new();
    home.advance_to(start_ms + 30 * DAY_MS, &mut reports);
    let (mut intervals, mut live) = (Vec::new(), Vec::new());
    for (seq, report) in reports.into_iter().enumerate() {
        match report {
            joule_sim::fleet::Report::Interval(mut record) => {
                record.seq = seq as u64 + 1;
                intervals.push(record);
            }
            joule_sim::fleet::Report::Live(mut reading) if reading.ts_ms < start_ms + DAY_MS => {
                reading.seq = seq as u64 + 1;
                live.push(reading);
            }
            Report::Live(_) => {}
        }
    }
    (intervals, live)
}

#[test]
fn a_simulated_homes_history_compacts_small_and_reads_back() {
    let (mut interval_bytes, mut intervals, mut live_bytes, mut readings) = (0, 0, 0, 0);
    for seed in 0..8 {
        let (records, live) = simulated_home(seed);
        let block = encode(&records).expect("encode");
        assert_eq!(decode::<IntervalRecord>(&block).expect("decode"), records);
        interval_bytes += block.len();
        intervals += records.len();
        let block = encode(&live).expect("encode");
        assert_eq!(decode::<LiveReading>(&block).expect("decode"), live);
        live_bytes += block.len();
        readings += live.len();
    }
    let per_interval = interval_bytes as f64 / intervals as f64;
    let per_reading = live_bytes as f64 / readings as f64;
    println!("{per_interval:.1} bytes per interval record, {per_reading:.1} per live reading");
    assert!(
        per_interval < 32.0,
        "{per_interval:.1} bytes per interval record"
    );
}

/// A day of one simulated home's live readings at the meter's default rate, one a second
/// (`live_interval_s = 1`), power sampled every second.
fn simulated_day_each_second(seed: usize) -> Vec<LiveReading> {
    use joule_sim::fleet::{Cadence, RegisterMeter, Report, Start, neighbourhood_home};
    let start_ms = 1_793_491_200_000;
    let cadence = Cadence {
        step_s: 1,
        live_every_s: 1,
        interval_s: 900,
    };
    let start = Start {
        ts_ms: start_ms,
        ..Start::default()
    };
    let mut home = RegisterMeter::new(neighbourhood_home(7, seed), 0.0, cadence, start);
    let mut reports = Vec::new();
    home.advance_to(start_ms + DAY_MS, &mut reports);
    reports
        .into_iter()
        .filter_map(|report| match report {
            Report::Live(reading) => Some(reading),
            Report::Interval(_) => None,
        })
        .enumerate()
        .map(|(seq, mut reading)| {
            reading.seq = seq as u64 + 1;
            reading
        })
        .collect()
}

#[test]
fn live_readings_at_one_a_second_compact_under_16_bytes_with_their_rollups() {
    let (mut bytes, mut readings) = (0, 0);
    for seed in [0, 1, 2, 5] {
        let live = simulated_day_each_second(seed);
        let block = encode(&live).expect("encode");
        assert_eq!(decode::<LiveReading>(&block).expect("decode"), live);
        bytes += block.len();
        // What stays beside them once compacted: the hour and day rollups (a minute's
        // buckets are summed from the readings).
        let meter = joule_protocol::MeterId::new("m").expect("id");
        let pairs: Vec<_> = live.iter().map(|r| (meter.clone(), r.clone())).collect();
        for resolution in [crate::Resolution::Hour, crate::Resolution::Day] {
            let buckets: Vec<Bucket> = crate::rollup_deltas(&pairs)
                .iter()
                .filter(|(_, r, _)| *r == resolution)
                .map(|(_, _, point)| Bucket::of(point))
                .collect();
            bytes += encode(&buckets).expect("encode").len();
        }
        readings += live.len();
    }
    let per_reading = bytes as f64 / readings as f64;
    println!("{per_reading:.2} bytes per live reading at one a second, rollups included");
    assert!(
        per_reading < 16.0,
        "{per_reading:.2} bytes per live reading"
    );
}
