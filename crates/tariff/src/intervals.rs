//! Interval data and the checks it gets before it is billed.
//!
//! Interval records allocate a period's register energy to prices, so bad records mean a
//! wrong bill. Nothing here changes the data: [`validate`] reports what looks wrong as
//! [`Finding`]s that travel on the bill, and estimation (in `estimate`) fills what is
//! missing, flagged.

use crate::money::Micros;
use crate::period::Period;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The energy of one interval: deltas of the import and export registers over
/// `[start, start + duration_s)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interval {
    /// First instant.
    pub start: Timestamp,
    /// Length, s.
    pub duration_s: u32,
    /// Energy imported in the interval, mWh (negative only in bad data).
    pub import_mwh: i64,
    /// Energy exported in the interval, mWh (negative only in bad data).
    pub export_mwh: i64,
    /// Highest demand the meter registered in the interval, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_demand_w: Option<u32>,
    /// Whether the values are an estimate rather than a reading.
    #[serde(default)]
    pub estimated: bool,
}

impl Interval {
    /// End (exclusive).
    pub fn end(&self) -> Timestamp {
        Timestamp::from_second(self.end_s()).unwrap_or(Timestamp::MAX)
    }

    pub(crate) fn start_s(&self) -> i64 {
        self.start.as_second()
    }

    pub(crate) fn end_s(&self) -> i64 {
        self.start_s() + i64::from(self.duration_s)
    }

    /// The energy of a register.
    pub fn energy_mwh(&self, register: Register) -> i64 {
        match register {
            Register::Import => self.import_mwh,
            Register::Export => self.export_mwh,
        }
    }
}

/// The cumulative registers read at one instant (from the protocol's
/// `Registers.import_mwh` and `export_mwh`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRead {
    /// Active energy imported since the meter was made, mWh.
    pub import_mwh: u64,
    /// Active energy exported since the meter was made, mWh.
    pub export_mwh: u64,
}

/// The registers read at the start and at the end of a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReads {
    /// At the period's start.
    pub start: RegisterRead,
    /// At the period's end.
    pub end: RegisterRead,
}

impl RegisterReads {
    /// Energy through a register over the period, mWh, or `None` if it went backwards.
    pub fn delta_mwh(&self, register: Register) -> Option<i64> {
        let (start, end) = match register {
            Register::Import => (self.start.import_mwh, self.end.import_mwh),
            Register::Export => (self.start.export_mwh, self.end.export_mwh),
        };
        end.checked_sub(start)
            .and_then(|delta| i64::try_from(delta).ok())
    }
}

/// One of the two active-energy registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    /// Energy taken from the grid.
    Import,
    /// Energy fed into the grid.
    Export,
}

/// Thresholds for [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationRules {
    /// An interval whose average power is more than this many times the period's median
    /// is a spike (0 turns the check off). Default 10.
    pub spike_factor: u32,
    /// The most the service can carry (from its fuse or breaker size), W; an interval
    /// above it is a spike.
    pub max_power_w: Option<u64>,
    /// This many consecutive intervals with the same non-zero import are frozen
    /// (0 turns the check off). Default 12 (three hours of 15-minute data).
    pub frozen_intervals: usize,
    /// Intervals ending after this instant are in the future (a clock problem).
    pub now: Option<Timestamp>,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            spike_factor: 10,
            max_power_w: None,
            frozen_intervals: 12,
            now: None,
        }
    }
}

/// Why a spike was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeReason {
    /// Above `spike_factor` × the median.
    Median,
    /// Above what the service can carry.
    Physical,
}

/// Something in the data that billing should not take on trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// No interval covers `[start, end)`.
    Gap {
        /// First uncovered instant.
        start: Timestamp,
        /// End of the hole.
        end: Timestamp,
    },
    /// An interval starts before the previous one ends.
    Overlap {
        /// Start of the later interval.
        start: Timestamp,
        /// Seconds covered twice.
        overlap_s: i64,
    },
    /// An interval's energy is implausibly high.
    Spike {
        /// Start of the interval.
        start: Timestamp,
        /// Which register.
        register: Register,
        /// Its energy, mWh.
        energy_mwh: i64,
        /// The limit it passed, mWh for this interval's length.
        limit_mwh: i64,
        /// Which limit.
        reason: SpikeReason,
    },
    /// The same non-zero import for many intervals in a row: a stuck reading.
    Frozen {
        /// Start of the first interval of the run.
        start: Timestamp,
        /// End of the last.
        end: Timestamp,
        /// Intervals in the run.
        intervals: usize,
        /// The repeated value, mWh.
        energy_mwh: i64,
    },
    /// A register went backwards within an interval.
    Negative {
        /// Start of the interval.
        start: Timestamp,
        /// Which register.
        register: Register,
        /// Its energy, mWh.
        energy_mwh: i64,
    },
    /// An interval does not start at a multiple of its length (a clock problem).
    Misaligned {
        /// Its start.
        start: Timestamp,
        /// Its length, s.
        duration_s: u32,
    },
    /// An interval ends after the `now` given (a clock problem).
    Future {
        /// Its start.
        start: Timestamp,
    },
    /// An interval has no length; it is ignored.
    ZeroLength {
        /// Its start.
        start: Timestamp,
    },
    /// Intervals entirely outside the period; they are ignored.
    OutsidePeriod {
        /// How many.
        intervals: usize,
    },
    /// A register moved but no interval carries any of its energy: the register delta
    /// was spread evenly over the period.
    NoIntervalData {
        /// Which register.
        register: Register,
    },
    /// The interval data does not add up to the register delta (see the bill's energy).
    Unreconciled {
        /// Which register.
        register: Register,
        /// Register delta minus the intervals' sum, mWh.
        difference_mwh: i64,
    },
    /// The price series had no price here; the plan's fallback price was used.
    FallbackPrice {
        /// First instant without a price.
        start: Timestamp,
        /// End of the hole.
        end: Timestamp,
        /// The price used, per kWh.
        price_per_kwh: Micros,
    },
}

pub(crate) fn instant(second: i64) -> Timestamp {
    Timestamp::from_second(second).unwrap_or(if second < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// Checks interval data over a period: gaps, overlaps, spikes, frozen values, negative
/// energy, clock problems. Intervals may come in any order.
pub fn validate(intervals: &[Interval], period: Period, rules: &ValidationRules) -> Vec<Finding> {
    let mut findings = Vec::new();
    let sorted_copy;
    let intervals = if intervals.is_sorted_by_key(|i| i.start) {
        intervals
    } else {
        let mut copy = intervals.to_vec();
        copy.sort_by_key(|i| i.start);
        sorted_copy = copy;
        &sorted_copy
    };
    let (start_s, end_s) = (period.start_s(), period.end_s());
    let mut inside: Vec<&Interval> = Vec::with_capacity(intervals.len());
    let mut outside = 0;
    for interval in intervals {
        if interval.duration_s == 0 {
            findings.push(Finding::ZeroLength {
                start: interval.start,
            });
        } else if interval.end_s() <= start_s || interval.start_s() >= end_s {
            outside += 1;
        } else {
            inside.push(interval);
        }
    }
    coverage(&inside, start_s, end_s, &mut findings);
    for interval in &inside {
        clock_and_sign(interval, rules, &mut findings);
    }
    spikes(&inside, rules, &mut findings);
    frozen(&inside, rules, &mut findings);
    if outside > 0 {
        findings.push(Finding::OutsidePeriod { intervals: outside });
    }
    findings
}

fn coverage(inside: &[&Interval], start_s: i64, end_s: i64, findings: &mut Vec<Finding>) {
    let mut covered_until = start_s;
    let mut previous_end: Option<i64> = None;
    for interval in inside {
        if let Some(previous) = previous_end
            && interval.start_s() < previous
        {
            findings.push(Finding::Overlap {
                start: interval.start,
                overlap_s: previous.min(interval.end_s()) - interval.start_s(),
            });
        }
        if interval.start_s() > covered_until {
            findings.push(Finding::Gap {
                start: instant(covered_until),
                end: interval.start,
            });
        }
        covered_until = covered_until.max(interval.end_s());
        previous_end = Some(previous_end.map_or(interval.end_s(), |p| p.max(interval.end_s())));
    }
    if covered_until < end_s {
        findings.push(Finding::Gap {
            start: instant(covered_until),
            end: instant(end_s),
        });
    }
}

fn clock_and_sign(interval: &Interval, rules: &ValidationRules, findings: &mut Vec<Finding>) {
    if interval
        .start_s()
        .rem_euclid(i64::from(interval.duration_s))
        != 0
    {
        findings.push(Finding::Misaligned {
            start: interval.start,
            duration_s: interval.duration_s,
        });
    }
    if let Some(now) = rules.now
        && interval.end_s() > now.as_second()
    {
        findings.push(Finding::Future {
            start: interval.start,
        });
    }
    for register in [Register::Import, Register::Export] {
        let energy_mwh = interval.energy_mwh(register);
        if energy_mwh < 0 {
            findings.push(Finding::Negative {
                start: interval.start,
                register,
                energy_mwh,
            });
        }
    }
}

/// Average power over an interval, mW (mWh × 3600 s/h ÷ s); saturating, so absurd data
/// stays absurdly high rather than wrapping.
fn power_mw(energy_mwh: i64, duration_s: u32) -> i64 {
    energy_mwh.saturating_mul(3600) / i64::from(duration_s)
}

/// Energy at a power for an interval's length, mWh.
fn energy_at_mw(power_mw: i64, duration_s: u32) -> i64 {
    (i128::from(power_mw) * i128::from(duration_s) / 3600) as i64
}

fn spikes(inside: &[&Interval], rules: &ValidationRules, findings: &mut Vec<Finding>) {
    for register in [Register::Import, Register::Export] {
        let median_mw = if rules.spike_factor > 0 {
            let mut powers: Vec<i64> = inside
                .iter()
                .map(|i| power_mw(i.energy_mwh(register), i.duration_s))
                .collect();
            let middle = powers.len() / 2;
            if powers.is_empty() {
                0
            } else {
                *powers.select_nth_unstable(middle).1
            }
        } else {
            0
        };
        let physical_mw = rules.max_power_w.map(|w| {
            i64::try_from(w)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000)
        });
        for interval in inside {
            let energy_mwh = interval.energy_mwh(register);
            let power = power_mw(energy_mwh, interval.duration_s);
            let limit = if physical_mw.is_some_and(|max| power > max) {
                physical_mw.map(|max| (max, SpikeReason::Physical))
            } else if median_mw > 0
                && power > median_mw.saturating_mul(i64::from(rules.spike_factor))
            {
                Some((
                    median_mw.saturating_mul(i64::from(rules.spike_factor)),
                    SpikeReason::Median,
                ))
            } else {
                None
            };
            if let Some((limit_mw, reason)) = limit {
                findings.push(Finding::Spike {
                    start: interval.start,
                    register,
                    energy_mwh,
                    limit_mwh: energy_at_mw(limit_mw, interval.duration_s),
                    reason,
                });
            }
        }
    }
}

fn frozen(inside: &[&Interval], rules: &ValidationRules, findings: &mut Vec<Finding>) {
    if rules.frozen_intervals < 2 {
        return;
    }
    let mut run_start = 0;
    for index in 1..=inside.len() {
        let continues = index < inside.len()
            && inside[index].import_mwh == inside[run_start].import_mwh
            && inside[index].start_s() == inside[index - 1].end_s();
        if continues {
            continue;
        }
        let length = index - run_start;
        let value = inside[run_start].import_mwh;
        if length >= rules.frozen_intervals && value != 0 {
            findings.push(Finding::Frozen {
                start: inside[run_start].start,
                end: inside[index - 1].end(),
                intervals: length,
                energy_mwh: value,
            });
        }
        run_start = index;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUARTER: u32 = 900;

    fn day() -> Period {
        Period::new(
            "2026-05-04T00:00:00Z".parse().unwrap(),
            "2026-05-05T00:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    /// A full day of 15-minute intervals with slowly varying import.
    fn clean() -> Vec<Interval> {
        (0..96)
            .map(|k| Interval {
                start: instant(day().start_s() + k * 900),
                duration_s: QUARTER,
                import_mwh: 100_000 + (k % 7) * 1_000,
                export_mwh: 0,
                max_demand_w: None,
                estimated: false,
            })
            .collect()
    }

    fn rules() -> ValidationRules {
        ValidationRules {
            max_power_w: Some(17_250),
            now: Some("2026-05-06T00:00:00Z".parse().unwrap()),
            ..ValidationRules::default()
        }
    }

    #[test]
    fn clean_data_has_no_findings() {
        assert_eq!(validate(&clean(), day(), &rules()), []);
    }

    #[test]
    fn finds_gaps_and_overlaps() {
        let mut data = clean();
        data.drain(10..14);
        data[20].start = instant(data[20].start_s() - 300);
        data.pop();
        // Removed 02:30 to 03:15; the 06:00 interval moved to 05:55; the last one gone.
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let findings = validate(&data, day(), &rules());
        let expected = [
            Finding::Gap {
                start: at("2026-05-04T02:30:00Z"),
                end: at("2026-05-04T03:30:00Z"),
            },
            Finding::Overlap {
                start: at("2026-05-04T05:55:00Z"),
                overlap_s: 300,
            },
            Finding::Gap {
                start: at("2026-05-04T06:10:00Z"),
                end: at("2026-05-04T06:15:00Z"),
            },
            Finding::Gap {
                start: at("2026-05-04T23:45:00Z"),
                end: at("2026-05-05T00:00:00Z"),
            },
            Finding::Misaligned {
                start: at("2026-05-04T05:55:00Z"),
                duration_s: QUARTER,
            },
        ];
        assert_eq!(findings, expected);
    }

    #[test]
    fn finds_spikes_by_median_and_by_service_size() {
        let mut data = clean();
        // Median is about 103 Wh per quarter (412 W); ten times that is about 4.1 kW.
        data[5].import_mwh = 1_500_000; // 6 kW: above 10 × median, below 17.25 kW.
        data[6].import_mwh = 5_000_000; // 20 kW: above the service size.
        let findings = validate(&data, day(), &rules());
        let spikes: Vec<(i64, SpikeReason)> = findings
            .iter()
            .filter_map(|f| match f {
                Finding::Spike {
                    energy_mwh, reason, ..
                } => Some((*energy_mwh, *reason)),
                _ => None,
            })
            .collect();
        assert_eq!(
            spikes,
            [
                (1_500_000, SpikeReason::Median),
                (5_000_000, SpikeReason::Physical)
            ]
        );
    }

    #[test]
    fn finds_frozen_negative_and_future() {
        let mut data = clean();
        for interval in &mut data[30..42] {
            interval.import_mwh = 77_000;
        }
        data[50].export_mwh = -5;
        let findings = validate(
            &data,
            day(),
            &ValidationRules {
                now: Some("2026-05-04T23:50:00Z".parse().unwrap()),
                ..rules()
            },
        );
        assert!(findings.contains(&Finding::Frozen {
            start: "2026-05-04T07:30:00Z".parse().unwrap(),
            end: "2026-05-04T10:30:00Z".parse().unwrap(),
            intervals: 12,
            energy_mwh: 77_000,
        }));
        assert!(findings.contains(&Finding::Negative {
            start: "2026-05-04T12:30:00Z".parse().unwrap(),
            register: Register::Export,
            energy_mwh: -5,
        }));
        assert!(findings.contains(&Finding::Future {
            start: "2026-05-04T23:45:00Z".parse().unwrap(),
        }));
        // Eleven in a row are not frozen.
        data[41].import_mwh = 1;
        assert!(
            !validate(&data, day(), &rules())
                .iter()
                .any(|f| matches!(f, Finding::Frozen { .. }))
        );
    }

    #[test]
    fn ignores_zero_length_and_outside_intervals_and_any_order() {
        let mut data = clean();
        data.reverse();
        let mut stray = data[0];
        stray.start = instant(day().end_s() + 3600);
        data.push(stray);
        stray.duration_s = 0;
        data.push(stray);
        let findings = validate(&data, day(), &rules());
        assert_eq!(
            findings,
            [
                Finding::ZeroLength { start: stray.start },
                Finding::OutsidePeriod { intervals: 1 }
            ]
        );
    }
}
