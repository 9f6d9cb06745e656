//! Estimation of missing interval data, every value flagged.
//!
//! A bill needs the period's energy spread over time to price it; when records are
//! missing, the holes are filled here before billing, never silently:
//!
//! - A hole of one hour or less with a record on each side is filled by linear
//!   interpolation between the two neighbours' average powers.
//! - A longer hole (or one at the edge of the period) takes the customer's historical
//!   profile: the average power at the same local hour of the week in the history given
//!   ([`Profile`]). Without history, the average power of the period's own records.
//! - When both boundary registers are known, the estimates are then scaled together so
//!   that records plus estimates add up exactly to the register delta (the shares are
//!   apportioned by largest remainder, so no mWh is lost to rounding). If the records
//!   alone already exceed the delta, the estimates are zero and the bill shows the
//!   difference.
//!
//! Every estimated record has `estimated = true`, and [`Estimate::filled`] lists each
//! hole with its method and energy.

use crate::intervals::{Interval, Register, RegisterReads, instant};
use crate::period::Period;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Why estimation could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    /// The interval length is zero.
    #[error("the interval length must be at least one second")]
    IntervalLength,
    /// A register is lower at the end of the period than at its start.
    #[error("the {register:?} register went backwards over the period")]
    RegisterBackwards {
        /// Which register.
        register: Register,
    },
}

/// How a hole was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Between the neighbouring records (holes of one hour or less).
    Linear,
    /// From the historical profile of the same local hour of the week.
    Profile,
    /// From the average power of the period's own records (no history given).
    PeriodAverage,
}

/// One hole and how it was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilledGap {
    /// First instant of the hole.
    pub start: Timestamp,
    /// End of the hole.
    pub end: Timestamp,
    /// Records made for it.
    pub intervals: usize,
    /// How.
    pub method: Method,
    /// Import estimated, mWh.
    pub import_mwh: i64,
    /// Export estimated, mWh.
    pub export_mwh: i64,
}

/// The records with the holes filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// The records given, unchanged, and the estimated ones, in time order.
    pub intervals: Vec<Interval>,
    /// Each hole, in time order.
    pub filled: Vec<FilledGap>,
}

/// Average power by local hour of the week, learned from history.
#[derive(Debug, Clone)]
pub struct Profile {
    zone: TimeZone,
    /// Per hour of the week (Monday 00:00 local is 0): energy, mWh, and seconds, for
    /// import and export.
    hours: Vec<[(i128, i64); 2]>,
}

const HOURS_PER_WEEK: usize = 7 * 24;

impl Profile {
    /// Learns from past records (estimated ones are skipped) in the customer's zone.
    pub fn from_history(history: &[Interval], zone: &TimeZone) -> Profile {
        let mut hours = vec![[(0_i128, 0_i64); 2]; HOURS_PER_WEEK];
        for interval in history.iter().filter(|i| !i.estimated && i.duration_s > 0) {
            let hour = hour_of_week(zone, interval.start);
            for (slot, register) in [Register::Import, Register::Export].iter().enumerate() {
                hours[hour][slot].0 += i128::from(interval.energy_mwh(*register).max(0));
                hours[hour][slot].1 += i64::from(interval.duration_s);
            }
        }
        Profile {
            zone: zone.clone(),
            hours,
        }
    }

    /// Energy for `duration_s` seconds starting at `start`, mWh: the average power of
    /// that hour of the week, or of the whole history when that hour has none.
    fn energy_mwh(&self, register: Register, start: Timestamp, duration_s: i64) -> Option<i64> {
        let slot = usize::from(register == Register::Export);
        let (energy, seconds) = self.hours[hour_of_week(&self.zone, start)][slot];
        if seconds > 0 {
            return Some(scale(energy, duration_s, seconds));
        }
        let (energy, seconds) = self.hours.iter().fold((0_i128, 0_i64), |(e, s), hour| {
            (e + hour[slot].0, s + hour[slot].1)
        });
        (seconds > 0).then(|| scale(energy, duration_s, seconds))
    }
}

fn hour_of_week(zone: &TimeZone, at: Timestamp) -> usize {
    let local = zone.to_offset(at).to_datetime(at);
    let day = local.weekday().to_monday_zero_offset() as usize;
    day * 24 + local.hour() as usize
}

/// `energy × numerator / denominator`, rounded to the nearest mWh.
fn scale(energy: i128, numerator: i64, denominator: i64) -> i64 {
    crate::money::saturate(crate::money::div_round(
        energy * i128::from(numerator),
        i128::from(denominator),
    ))
}

/// A hole in the records: its grid pieces and the records on either side.
struct Hole {
    start_s: i64,
    end_s: i64,
    before: Option<Interval>,
    after: Option<Interval>,
}

/// A record to be made.
struct Piece {
    hole: usize,
    start_s: i64,
    duration_s: i64,
    values: [i64; 2],
}

/// Fills the holes in `intervals` over `period` with records of `interval_s` seconds
/// (aligned to the period's start; cut short at a hole's edges), scaled to the register
/// delta when `registers` are given.
pub fn estimate(
    intervals: &[Interval],
    period: Period,
    interval_s: u32,
    registers: Option<&RegisterReads>,
    profile: Option<&Profile>,
) -> Result<Estimate, EstimateError> {
    if interval_s == 0 {
        return Err(EstimateError::IntervalLength);
    }
    let mut records: Vec<Interval> = intervals.to_vec();
    records.sort_by_key(|i| i.start);
    let inside: Vec<&Interval> = records
        .iter()
        .filter(|i| {
            i.duration_s > 0 && i.end_s() > period.start_s() && i.start_s() < period.end_s()
        })
        .collect();
    let holes = holes(&inside, period);
    let mut pieces = cut(&holes, period.start_s(), i64::from(interval_s));
    let average = period_average(&inside);
    let mut methods = Vec::with_capacity(holes.len());
    for (index, hole) in holes.iter().enumerate() {
        let method = match (hole.before, hole.after) {
            (Some(before), Some(after)) if hole.end_s - hole.start_s <= 3600 => {
                let hole_pieces: Vec<&mut Piece> =
                    pieces.iter_mut().filter(|p| p.hole == index).collect();
                interpolate(hole_pieces, &before, &after);
                Method::Linear
            }
            _ => {
                let use_profile = profile.is_some_and(|p| {
                    p.energy_mwh(Register::Import, instant(hole.start_s), 3600)
                        .is_some()
                });
                for piece in pieces.iter_mut().filter(|p| p.hole == index) {
                    for (slot, register) in [Register::Import, Register::Export].iter().enumerate()
                    {
                        piece.values[slot] = match profile.filter(|_| use_profile) {
                            Some(profile) => profile
                                .energy_mwh(*register, instant(piece.start_s), piece.duration_s)
                                .unwrap_or(0),
                            None => {
                                scale(average[slot].0, piece.duration_s, average[slot].1.max(1))
                            }
                        };
                    }
                }
                if use_profile {
                    Method::Profile
                } else {
                    Method::PeriodAverage
                }
            }
        };
        methods.push(method);
    }
    if let Some(registers) = registers {
        for (slot, register) in [Register::Import, Register::Export].iter().enumerate() {
            let delta = registers
                .delta_mwh(*register)
                .ok_or(EstimateError::RegisterBackwards {
                    register: *register,
                })?;
            let known: i64 = inside
                .iter()
                .map(|i| clipped_energy(i, *register, period))
                .sum();
            fit(&mut pieces, slot, delta - known);
        }
    }
    Ok(assemble(records, &holes, &pieces, &methods))
}

/// The uncovered stretches of the period, with their neighbours.
fn holes(inside: &[&Interval], period: Period) -> Vec<Hole> {
    let mut holes = Vec::new();
    let mut covered_until = period.start_s();
    let mut last: Option<Interval> = None;
    for interval in inside {
        if interval.start_s() > covered_until {
            holes.push(Hole {
                start_s: covered_until,
                end_s: interval.start_s(),
                before: last.filter(|l| l.end_s() == covered_until),
                after: Some(**interval),
            });
        }
        if interval.end_s() >= covered_until {
            covered_until = interval.end_s();
            last = Some(**interval);
        }
    }
    if covered_until < period.end_s() {
        holes.push(Hole {
            start_s: covered_until,
            end_s: period.end_s(),
            before: last.filter(|l| l.end_s() == covered_until),
            after: None,
        });
    }
    holes
}

/// Cuts holes at the grid of `step` seconds from `origin_s`.
fn cut(holes: &[Hole], origin_s: i64, step: i64) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (index, hole) in holes.iter().enumerate() {
        let mut start = hole.start_s;
        while start < hole.end_s {
            let next_grid = origin_s + ((start - origin_s).div_euclid(step) + 1) * step;
            let end = next_grid.min(hole.end_s);
            pieces.push(Piece {
                hole: index,
                start_s: start,
                duration_s: end - start,
                values: [0, 0],
            });
            start = end;
        }
    }
    pieces
}

/// Energy and seconds of the records, per register.
fn period_average(inside: &[&Interval]) -> [(i128, i64); 2] {
    let mut sums = [(0_i128, 0_i64); 2];
    for interval in inside.iter().filter(|i| !i.estimated) {
        for (slot, register) in [Register::Import, Register::Export].iter().enumerate() {
            sums[slot].0 += i128::from(interval.energy_mwh(*register).max(0));
            sums[slot].1 += i64::from(interval.duration_s);
        }
    }
    sums
}

/// Straight line between the neighbours' average powers, one point per piece.
fn interpolate(pieces: Vec<&mut Piece>, before: &Interval, after: &Interval) {
    let steps = pieces.len() as i128 + 1;
    for (k, piece) in pieces.into_iter().enumerate() {
        for (slot, register) in [Register::Import, Register::Export].iter().enumerate() {
            // Average powers in mWh per s × 3600 (mW), kept exact as fractions.
            let p0 = i128::from(before.energy_mwh(*register).max(0)) * 3600
                / i128::from(before.duration_s);
            let p1 = i128::from(after.energy_mwh(*register).max(0)) * 3600
                / i128::from(after.duration_s);
            let power = p0 + (p1 - p0) * (k as i128 + 1) / steps;
            piece.values[slot] = scale(power, piece.duration_s, 3600);
        }
    }
}

/// Energy of a record inside the period (pro rata by time when it sticks out).
fn clipped_energy(interval: &Interval, register: Register, period: Period) -> i64 {
    let from = interval.start_s().max(period.start_s());
    let to = interval.end_s().min(period.end_s());
    scale(
        i128::from(interval.energy_mwh(register)),
        to - from,
        i64::from(interval.duration_s),
    )
}

/// Scales the estimates of one register so that they add up to `target` (zero if the
/// target is negative): shares by largest remainder, weighted by the estimates, or by
/// time when they are all zero.
fn fit(pieces: &mut [Piece], slot: usize, target: i64) {
    if pieces.is_empty() {
        return;
    }
    if target <= 0 {
        for piece in pieces.iter_mut() {
            piece.values[slot] = 0;
        }
        return;
    }
    let estimated: i128 = pieces.iter().map(|p| i128::from(p.values[slot])).sum();
    let weights: Vec<i128> = if estimated > 0 {
        pieces.iter().map(|p| i128::from(p.values[slot])).collect()
    } else {
        pieces.iter().map(|p| i128::from(p.duration_s)).collect()
    };
    for (piece, share) in pieces.iter_mut().zip(apportion(target, &weights)) {
        piece.values[slot] = share;
    }
}

/// Splits `total` in proportion to `weights` (non-negative, not all zero) so that the
/// parts add up exactly: floors first, then one more to the largest remainders.
pub(crate) fn apportion(total: i64, weights: &[i128]) -> Vec<i64> {
    let sum: i128 = weights.iter().sum();
    let mut shares: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = i128::from(total) * weight;
        shares.push((exact / sum) as i64);
        remainders.push((exact % sum, index));
    }
    let left = total - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, index) in remainders.iter().take(left as usize) {
        shares[index] += 1;
    }
    shares
}

fn assemble(
    mut records: Vec<Interval>,
    holes: &[Hole],
    pieces: &[Piece],
    methods: &[Method],
) -> Estimate {
    let mut filled: Vec<FilledGap> = holes
        .iter()
        .zip(methods)
        .map(|(hole, method)| FilledGap {
            start: instant(hole.start_s),
            end: instant(hole.end_s),
            intervals: 0,
            method: *method,
            import_mwh: 0,
            export_mwh: 0,
        })
        .collect();
    for piece in pieces {
        let gap = &mut filled[piece.hole];
        gap.intervals += 1;
        gap.import_mwh += piece.values[0];
        gap.export_mwh += piece.values[1];
        records.push(Interval {
            start: instant(piece.start_s),
            duration_s: piece.duration_s as u32,
            import_mwh: piece.values[0],
            export_mwh: piece.values[1],
            max_demand_w: None,
            estimated: true,
        });
    }
    records.sort_by_key(|i| i.start);
    Estimate {
        intervals: records,
        filled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intervals::RegisterRead;

    fn day() -> Period {
        Period::new(
            "2026-05-04T00:00:00Z".parse().unwrap(),
            "2026-05-05T00:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn quarter(k: i64, import_mwh: i64) -> Interval {
        Interval {
            start: instant(day().start_s() + k * 900),
            duration_s: 900,
            import_mwh,
            export_mwh: 0,
            max_demand_w: None,
            estimated: false,
        }
    }

    #[test]
    fn apportions_exactly() {
        assert_eq!(apportion(10, &[1, 1, 1]), [4, 3, 3]);
        assert_eq!(apportion(7, &[0, 2, 5]), [0, 2, 5]);
        assert_eq!(apportion(100, &[1, 2]), [33, 67]);
    }

    #[test]
    fn short_holes_are_interpolated() {
        // 96 quarters; the three at 01:00, 01:15, 01:30 (k = 4, 5, 6) are missing.
        let data: Vec<Interval> = (0..96)
            .filter(|k| !(4..7).contains(k))
            .map(|k| quarter(k, if k < 4 { 100_000 } else { 500_000 }))
            .collect();
        let estimate = estimate(&data, day(), 900, None, None).unwrap();
        assert_eq!(estimate.intervals.len(), 96);
        assert_eq!(estimate.filled.len(), 1);
        let gap = estimate.filled[0];
        assert_eq!(gap.method, Method::Linear);
        assert_eq!(gap.intervals, 3);
        // From 100 Wh to 500 Wh in four equal steps: 200, 300, 400 Wh.
        let made: Vec<(i64, bool)> = estimate.intervals[4..7]
            .iter()
            .map(|i| (i.import_mwh, i.estimated))
            .collect();
        assert_eq!(made, [(200_000, true), (300_000, true), (400_000, true)]);
        assert!(!estimate.intervals[3].estimated && !estimate.intervals[7].estimated);
    }

    #[test]
    fn interpolation_is_scaled_to_the_register_delta() {
        let data: Vec<Interval> = (0..96)
            .filter(|k| !(4..7).contains(k))
            .map(|k| quarter(k, 100_000))
            .collect();
        // Records hold 93 × 100 Wh; the registers moved 93 × 100 Wh + 600 Wh, so the three
        // holes share 600 Wh, equally (the line between two equal neighbours is flat).
        let registers = RegisterReads {
            start: RegisterRead::default(),
            end: RegisterRead {
                import_mwh: 93 * 100_000 + 600_000,
                export_mwh: 0,
            },
        };
        let estimate = estimate(&data, day(), 900, Some(&registers), None).unwrap();
        let total: i64 = estimate.intervals.iter().map(|i| i.import_mwh).sum();
        assert_eq!(total, 93 * 100_000 + 600_000);
        assert_eq!(estimate.filled[0].import_mwh, 600_000);
        assert_eq!(estimate.intervals[5].import_mwh, 200_000);
    }

    #[test]
    fn long_holes_use_the_profile() {
        let zone = TimeZone::UTC;
        // History: a week earlier, 400 Wh per quarter from 08:00 to 12:00, 100 Wh otherwise.
        let history: Vec<Interval> = (0..96)
            .map(|k| {
                let mut i = quarter(
                    k,
                    if (32..48).contains(&k) {
                        400_000
                    } else {
                        100_000
                    },
                );
                i.start = instant(i.start_s() - 7 * 86_400);
                i
            })
            .collect();
        let profile = Profile::from_history(&history, &zone);
        // Today, 07:00 to 13:00 (k = 28..52) is missing: longer than an hour.
        let data: Vec<Interval> = (0..96)
            .filter(|k| !(28..52).contains(k))
            .map(|k| quarter(k, 100_000))
            .collect();
        let estimate = estimate(&data, day(), 900, None, Some(&profile)).unwrap();
        assert_eq!(estimate.filled[0].method, Method::Profile);
        assert_eq!(estimate.filled[0].intervals, 24);
        // 4 quarters at 100 Wh (07:00–08:00), 16 at 400 Wh, 4 at 100 Wh.
        assert_eq!(estimate.filled[0].import_mwh, 8 * 100_000 + 16 * 400_000);
        assert_eq!(estimate.intervals[32].import_mwh, 400_000);
        assert!(estimate.intervals[32].estimated);
        // Without history, the period's own average (100 Wh) is used.
        let plain = super::estimate(&data, day(), 900, None, None).unwrap();
        assert_eq!(plain.filled[0].method, Method::PeriodAverage);
        assert_eq!(plain.filled[0].import_mwh, 24 * 100_000);
    }

    #[test]
    fn holes_at_the_edges_and_partial_pieces() {
        // Only 06:00 to 18:00 recorded, starting 5 minutes off the grid.
        let data: Vec<Interval> = (24..72)
            .map(|k| {
                let mut i = quarter(k, 100_000);
                i.start = instant(i.start_s() + 300);
                i
            })
            .collect();
        let estimate = estimate(&data, day(), 900, None, None).unwrap();
        assert_eq!(estimate.filled.len(), 2);
        assert!(
            estimate
                .filled
                .iter()
                .all(|f| f.method == Method::PeriodAverage)
        );
        // 00:00–06:05 is 24 whole quarters and a 5-minute piece.
        assert_eq!(estimate.filled[0].intervals, 25);
        let covered: i64 = estimate
            .intervals
            .iter()
            .map(|i| i64::from(i.duration_s))
            .sum();
        assert_eq!(covered, 86_400);
        assert_eq!(
            super::estimate(&data, day(), 0, None, None),
            Err(EstimateError::IntervalLength)
        );
    }

    #[test]
    fn records_above_the_register_leave_zero_estimates() {
        let data: Vec<Interval> = (1..96).map(|k| quarter(k, 100_000)).collect();
        let registers = RegisterReads {
            start: RegisterRead {
                import_mwh: 1_000,
                export_mwh: 0,
            },
            end: RegisterRead {
                import_mwh: 1_000 + 90 * 100_000,
                export_mwh: 0,
            },
        };
        let estimate = estimate(&data, day(), 900, Some(&registers), None).unwrap();
        assert_eq!(estimate.filled[0].import_mwh, 0);
        let backwards = RegisterReads {
            start: registers.end,
            end: registers.start,
        };
        assert_eq!(
            super::estimate(&data, day(), 900, Some(&backwards), None),
            Err(EstimateError::RegisterBackwards {
                register: Register::Import
            })
        );
    }
}
