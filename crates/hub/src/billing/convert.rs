//! From stored interval records to the interval energy billing needs.
//!
//! A meter sends cumulative register snapshots at the end of each clock-aligned interval
//! (`IntervalRecord`, of which billing reads the registers: `IntervalRegisters`);
//! `joule_tariff` bills energy per interval and the register reads at the period's
//! boundaries. The energy of an interval is the difference between two
//! consecutive snapshots, so it is exact whatever the meter's clock did in between:
//!
//! - A missing record (a hole of k intervals) leaves one difference over the whole hole;
//!   it is spread evenly over the k clock intervals (remainder to the first ones) and each
//!   is marked estimated. Nothing is lost: the parts add up to the register difference.
//! - A register that goes backwards (a reset or a replaced meter) gives no energy for that
//!   step: the interval is left out (the bill shows it as a gap), the instant is reported
//!   in `resets`, and the period is billed from intervals instead of register reads. Energy
//!   is never negative.
//! - The boundary reads are the snapshots at the boundary instants, or, when a record is
//!   missing there, the linear interpolation between the nearest snapshots on either side
//!   (reported in `interpolated_reads`).
//! - The meter's maximum-demand register only grows until it is reset, so an interval's
//!   demand is known when the register rose during it (then the new value is that
//!   interval's peak); otherwise it is left to the tariff, which takes the interval's
//!   average power.

use joule_store::IntervalRegisters;
use joule_tariff::{Interval, RegisterRead, RegisterReads};

/// One meter's interval energy over `[from_ms, to_ms)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeterIntervals {
    /// Interval energy in time order.
    pub intervals: Vec<Interval>,
    /// The registers at both boundaries, if both are known and no reset lies between.
    pub registers: Option<RegisterReads>,
    /// End instants (Unix ms) of records whose registers went backwards.
    pub resets: Vec<i64>,
    /// Intervals spread over a hole of missing records (marked estimated).
    pub spread_intervals: usize,
    /// Whether a boundary read was interpolated between records around it.
    pub interpolated_reads: bool,
}

/// Converts one meter's records (any order, duplicates allowed) to interval energy within
/// `[from_ms, to_ms)`. Records before `from_ms` and at `to_ms` are needed for the first
/// interval and the boundary reads; the caller fetches some margin on both sides.
pub fn from_records(records: &[IntervalRegisters], from_ms: i64, to_ms: i64) -> MeterIntervals {
    let mut sorted: Vec<&IntervalRegisters> = records.iter().collect();
    sorted.sort_by_key(|r| r.ts_ms);
    sorted.dedup_by_key(|r| r.ts_ms);
    let mut out = MeterIntervals::default();
    for pair in sorted.windows(2) {
        let (before, after) = (pair[0], pair[1]);
        if after.ts_ms <= from_ms || before.ts_ms >= to_ms {
            continue;
        }
        let import = after.import_mwh.checked_sub(before.import_mwh);
        let export = after.export_mwh.checked_sub(before.export_mwh);
        let (Some(import), Some(export)) = (import, export) else {
            out.resets.push(after.ts_ms);
            continue;
        };
        spread(&mut out, before, after, import, export, from_ms, to_ms);
    }
    let start = read_at(&sorted, from_ms, &mut out.interpolated_reads);
    let end = read_at(&sorted, to_ms, &mut out.interpolated_reads);
    if let (Some(start), Some(end)) = (start, end)
        && out.resets.is_empty()
    {
        out.registers = Some(RegisterReads { start, end });
    }
    out
}

/// Adds the intervals between two consecutive records.
fn spread(
    out: &mut MeterIntervals,
    before: &IntervalRegisters,
    after: &IntervalRegisters,
    import_mwh: u64,
    export_mwh: u64,
    from_ms: i64,
    to_ms: i64,
) {
    let span_ms = after.ts_ms - before.ts_ms;
    let step_ms = i64::from(after.interval_s.max(1)) * 1000;
    // A hole of whole intervals is spread over them; anything irregular is one interval.
    let (slots, slot_ms) = if span_ms % step_ms == 0 {
        (span_ms / step_ms, step_ms)
    } else {
        (1, span_ms)
    };
    let Ok(slot_s) = u32::try_from(slot_ms / 1000) else {
        return;
    };
    let demand_rose = match (before.max_demand_w, after.max_demand_w) {
        (Some(old), Some(new)) => new > old,
        _ => false,
    };
    for k in 0..slots {
        let start_ms = before.ts_ms + k * slot_ms;
        if start_ms < from_ms || start_ms + slot_ms > to_ms {
            continue;
        }
        let Ok(start) = jiff::Timestamp::from_millisecond(start_ms) else {
            continue;
        };
        out.intervals.push(Interval {
            start,
            duration_s: slot_s,
            import_mwh: share(import_mwh, slots, k),
            export_mwh: share(export_mwh, slots, k),
            max_demand_w: (slots == 1 && demand_rose)
                .then(|| {
                    after
                        .max_demand_w
                        .map(|w| w.round().clamp(0.0, u32::MAX as f64) as u32)
                })
                .flatten(),
            estimated: slots > 1,
        });
        if slots > 1 {
            out.spread_intervals += 1;
        }
    }
}

/// The `k`-th of `parts` even shares of `total`, the remainder going to the first ones.
fn share(total: u64, parts: i64, k: i64) -> i64 {
    let parts = u64::try_from(parts).unwrap_or(1).max(1);
    let k = u64::try_from(k).unwrap_or(0);
    let base = total / parts;
    let extra = u64::from(k < total % parts);
    i64::try_from(base + extra).unwrap_or(i64::MAX)
}

/// The registers at `at_ms`: the record there, or the interpolation between the nearest
/// records on both sides (when the registers did not go backwards between them).
fn read_at(
    sorted: &[&IntervalRegisters],
    at_ms: i64,
    interpolated: &mut bool,
) -> Option<RegisterRead> {
    let index = sorted.partition_point(|r| r.ts_ms < at_ms);
    if let Some(exact) = sorted.get(index).filter(|r| r.ts_ms == at_ms) {
        return Some(RegisterRead {
            import_mwh: exact.import_mwh,
            export_mwh: exact.export_mwh,
        });
    }
    let before = sorted.get(index.checked_sub(1)?)?;
    let after = sorted.get(index)?;
    let fraction = |a: u64, b: u64| -> Option<u64> {
        let delta = b.checked_sub(a)?;
        let elapsed = u128::try_from(at_ms - before.ts_ms).ok()?;
        let span = u128::try_from(after.ts_ms - before.ts_ms).ok()?;
        let part = (u128::from(delta) * elapsed + span / 2) / span;
        u64::try_from(part).ok().map(|part| a + part)
    };
    let read = RegisterRead {
        import_mwh: fraction(before.import_mwh, after.import_mwh)?,
        export_mwh: fraction(before.export_mwh, after.export_mwh)?,
    };
    *interpolated = true;
    Some(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-06-01 00:00 UTC.
    const T0: i64 = 1_780_272_000_000;
    const Q: i64 = 900_000;

    fn record(quarter: i64, import_mwh: u64, export_mwh: u64) -> IntervalRegisters {
        IntervalRegisters::from(&joule_testkit::interval_record(
            1,
            T0 + quarter * Q,
            import_mwh,
            export_mwh,
        ))
    }

    fn energy(out: &MeterIntervals) -> Vec<(i64, i64, bool)> {
        out.intervals
            .iter()
            .map(|i| (i.import_mwh, i.export_mwh, i.estimated))
            .collect()
    }

    #[test]
    fn consecutive_snapshots_give_their_differences_and_the_boundary_reads() {
        // Registers 1,000 / 1,250 / 1,600 / 2,000 mWh at 00:00, 00:15, 00:30, 00:45; the
        // period [00:00, 00:45) holds three intervals: 250, 350 and 400 mWh.
        let records = [
            record(0, 1_000, 10),
            record(1, 1_250, 10),
            record(2, 1_600, 15),
            record(3, 2_000, 40),
        ];
        let out = from_records(&records, T0, T0 + 3 * Q);
        assert_eq!(
            energy(&out),
            [(250, 0, false), (350, 5, false), (400, 25, false)]
        );
        assert_eq!(out.intervals[1].start.as_millisecond(), T0 + Q);
        assert_eq!(out.intervals[1].duration_s, 900);
        let reads = out.registers.expect("both boundaries have a record");
        assert_eq!(
            (reads.start.import_mwh, reads.end.import_mwh),
            (1_000, 2_000)
        );
        assert_eq!((reads.start.export_mwh, reads.end.export_mwh), (10, 40));
        assert!(!out.interpolated_reads && out.resets.is_empty());
    }

    #[test]
    fn a_missing_record_is_spread_over_its_intervals_and_flagged() {
        // 00:30 is missing: 00:15→00:45 rose 701 mWh, so 351 + 350, both estimated.
        let records = [
            record(0, 0, 0),
            record(1, 300, 0),
            record(3, 1_001, 0),
            record(4, 1_201, 0),
        ];
        let out = from_records(&records, T0, T0 + 4 * Q);
        assert_eq!(
            energy(&out),
            [
                (300, 0, false),
                (351, 0, true),
                (350, 0, true),
                (200, 0, false)
            ]
        );
        assert_eq!(out.spread_intervals, 2);
        assert_eq!(out.intervals[2].start.as_millisecond(), T0 + 2 * Q);
        let sum: i64 = out.intervals.iter().map(|i| i.import_mwh).sum();
        let reads = out.registers.expect("registers known");
        assert_eq!(sum, 1_201);
        assert_eq!(reads.end.import_mwh - reads.start.import_mwh, 1_201);
    }

    #[test]
    fn a_register_reset_is_flagged_never_negative() {
        // The meter restarted from zero before 00:30: that step is left out.
        let records = [
            record(0, 5_000, 0),
            record(1, 5_200, 0),
            record(2, 100, 0),
            record(3, 300, 0),
        ];
        let out = from_records(&records, T0, T0 + 3 * Q);
        assert_eq!(energy(&out), [(200, 0, false), (200, 0, false)]);
        assert_eq!(out.resets, [T0 + 2 * Q]);
        assert!(out.registers.is_none(), "reads across a reset mean nothing");
        assert!(out.intervals.iter().all(|i| i.import_mwh >= 0));
    }

    #[test]
    fn records_outside_the_period_only_serve_its_edges() {
        // Records every quarter from 23:30 the day before to 01:00; the period is
        // [00:00, 00:30): two intervals. A missing 00:00 record is interpolated from
        // 23:45 (900) and 00:15 (1,500): 1,200.
        let records = [
            record(-2, 600, 0),
            record(-1, 900, 0),
            record(1, 1_500, 0),
            record(2, 1_800, 0),
            record(4, 2_400, 0),
        ];
        let out = from_records(&records, T0, T0 + 2 * Q);
        assert_eq!(energy(&out), [(300, 0, true), (300, 0, false)]);
        let reads = out.registers.expect("interpolated start");
        assert_eq!(
            (reads.start.import_mwh, reads.end.import_mwh),
            (1_200, 1_800)
        );
        assert!(out.interpolated_reads);
    }

    #[test]
    fn demand_is_the_register_where_it_rose() {
        let mut records = [record(0, 0, 0), record(1, 100, 0), record(2, 900, 0)];
        records[0].max_demand_w = Some(1_500.0);
        records[1].max_demand_w = Some(1_500.0);
        records[2].max_demand_w = Some(3_200.4);
        let out = from_records(&records, T0, T0 + 2 * Q);
        let demand: Vec<Option<u32>> = out.intervals.iter().map(|i| i.max_demand_w).collect();
        assert_eq!(demand, [None, Some(3_200)]);
    }

    #[test]
    fn duplicates_and_disorder_do_not_count_twice() {
        let records = [
            record(2, 700, 0),
            record(0, 100, 0),
            record(1, 300, 0),
            record(1, 300, 0),
        ];
        let out = from_records(&records, T0, T0 + 2 * Q);
        assert_eq!(energy(&out), [(200, 0, false), (400, 0, false)]);
    }
}
