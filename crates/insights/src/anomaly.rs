//! Unusual hours: each hour of a recent window against the same local hour of the week in
//! the weeks before (Tuesday 19:00 against the previous Tuesdays at 19:00), with a robust
//! centre and spread (median and MAD), so that one odd week in the history does not hide
//! or invent an anomaly.

use crate::basis::Basis;
use crate::series::{self, Interval, Period};
use crate::stats::{mad, median};
use jiff::{civil::Date, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// MAD × this estimates the standard deviation of normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Smallest spread a score divides by, kWh: a perfectly regular history does not make
/// every small change an anomaly.
const MIN_SPREAD_KWH: f64 = 0.05;

/// Smallest spread as a share of the expected energy.
const MIN_RELATIVE_SPREAD: f64 = 0.1;

/// Longest history looked at, weeks (ten years).
const MAX_BASELINE_WEEKS: u32 = 520;

/// What counts as unusual.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AnomalyOptions {
    /// Weeks of history before each hour to compare with.
    pub baseline_weeks: u32,
    /// Fewest of those weeks that must have data for the hour to be judged.
    pub min_baseline_weeks: u32,
    /// Score (robust z: deviations from the median in estimated standard deviations)
    /// from which an hour is flagged.
    pub threshold: f64,
    /// Smallest difference from the expected energy that is flagged, kWh.
    pub min_difference_kwh: f64,
    /// Whether hours far below the usual are flagged too.
    pub flag_below: bool,
}

impl Default for AnomalyOptions {
    /// Four weeks of history (three at least), score 3.5, at least 0.25 kWh, above only.
    fn default() -> Self {
        Self {
            baseline_weeks: 4,
            min_baseline_weeks: 3,
            threshold: 3.5,
            min_difference_kwh: 0.25,
            flag_below: false,
        }
    }
}

/// Which way an hour departs from the usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More than usual.
    Above,
    /// Less than usual.
    Below,
}

/// One unusual hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HourAnomaly {
    /// Start of the hour's first interval, Unix ms.
    pub start_ms: i64,
    /// Local date.
    pub date: Date,
    /// Local hour (0–23).
    pub hour: u8,
    /// Energy used in the hour, kWh (per hour of data when the hour is partly covered or,
    /// on the night clocks go back, twice there).
    pub actual_kwh: f64,
    /// The median of the same hour of the week in the baseline weeks, kWh.
    pub expected_kwh: f64,
    /// The spread the score is measured in, kWh.
    pub spread_kwh: f64,
    /// (actual − expected) / spread.
    pub score: f64,
    /// Above or below the usual.
    pub direction: Direction,
}

/// The unusual hours of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomalies {
    /// Flagged hours, in time order.
    pub hours: Vec<HourAnomaly>,
    /// Hours of the window judged against a baseline.
    pub hours_checked: usize,
    /// Hours of the window with too little history to judge.
    pub hours_without_baseline: usize,
    /// What the judgement is based on.
    pub basis: Basis,
}

/// Why no anomalies could be looked for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnomalyError {
    /// The options are out of range.
    #[error("anomaly options: {0}")]
    InvalidOptions(&'static str),
    /// No usable interval in the window.
    #[error("no usable interval in the window ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// The intervals of one local clock hour.
#[derive(Debug, Clone, PartialEq)]
struct Hour {
    date: Date,
    /// Start of its first interval, Unix ms.
    start_ms: i64,
    intervals: Vec<Interval>,
}

impl Hour {
    /// Energy per hour of data, kWh.
    fn kwh(&self) -> f64 {
        let wh: f64 = self.intervals.iter().map(Interval::consumption_wh).sum();
        let hours: f64 = self
            .intervals
            .iter()
            .map(|i| f64::from(i.duration_s) / 3600.0)
            .sum();
        wh / 1000.0 / hours
    }
}

/// Days since 1970-01-01 of a date, so that "a week before" is `day − 7`.
fn day_number(date: Date) -> i32 {
    (date - Date::constant(1970, 1, 1)).get_days()
}

fn check_options(options: &AnomalyOptions) -> Result<(), AnomalyError> {
    if !(1..=MAX_BASELINE_WEEKS).contains(&options.baseline_weeks) {
        return Err(AnomalyError::InvalidOptions(
            "baseline_weeks must be 1 to 520",
        ));
    }
    if !(1..=options.baseline_weeks).contains(&options.min_baseline_weeks) {
        return Err(AnomalyError::InvalidOptions(
            "min_baseline_weeks must be 1 to baseline_weeks",
        ));
    }
    if !(options.threshold.is_finite() && options.threshold > 0.0) {
        return Err(AnomalyError::InvalidOptions(
            "threshold must be a positive number",
        ));
    }
    if !(options.min_difference_kwh.is_finite() && options.min_difference_kwh >= 0.0) {
        return Err(AnomalyError::InvalidOptions(
            "min_difference_kwh must be a number ≥ 0",
        ));
    }
    Ok(())
}

/// The hours in `window` whose energy is far from the same local hour of the week in the
/// `baseline_weeks` before.
pub fn anomalies(
    intervals: &[Interval],
    tz: &TimeZone,
    window: Period,
    options: &AnomalyOptions,
) -> Result<Anomalies, AnomalyError> {
    check_options(options)?;
    let checked = series::check(intervals);
    let mut hours: BTreeMap<(i32, i8), Hour> = BTreeMap::new();
    for local in checked.local(tz) {
        let date = local.start.date();
        hours
            .entry((day_number(date), local.start.hour()))
            .or_insert_with(|| Hour {
                date,
                start_ms: local.interval.start_ms,
                intervals: Vec::new(),
            })
            .intervals
            .push(local.interval);
    }
    let in_window: Vec<(&(i32, i8), &Hour)> = hours
        .iter()
        .filter(|(_, hour)| (window.from_ms..window.to_ms).contains(&hour.start_ms))
        .collect();
    if in_window.is_empty() {
        return Err(AnomalyError::NoData {
            skipped: checked.skipped,
        });
    }
    let mut used_keys: BTreeSet<(i32, i8)> = BTreeSet::new();
    let (mut flagged, mut hours_checked, mut hours_without_baseline) = (Vec::new(), 0, 0);
    for (&(day, hour_of_day), hour) in in_window {
        used_keys.insert((day, hour_of_day));
        let history: Vec<((i32, i8), f64)> = (1..=options.baseline_weeks)
            .filter_map(|weeks| {
                let key = (
                    day.checked_sub(i32::try_from(weeks * 7).ok()?)?,
                    hour_of_day,
                );
                Some((key, hours.get(&key)?.kwh()))
            })
            .collect();
        if history.len() < options.min_baseline_weeks as usize {
            hours_without_baseline += 1;
            continue;
        }
        hours_checked += 1;
        used_keys.extend(history.iter().map(|(key, _)| *key));
        let values: Vec<f64> = history.iter().map(|(_, kwh)| *kwh).collect();
        let (Some(expected_kwh), Some(deviation)) = (median(&values), mad(&values)) else {
            continue;
        };
        let spread_kwh = (MAD_TO_SIGMA * deviation)
            .max(MIN_RELATIVE_SPREAD * expected_kwh)
            .max(MIN_SPREAD_KWH);
        let actual_kwh = hour.kwh();
        let score = (actual_kwh - expected_kwh) / spread_kwh;
        let far = (actual_kwh - expected_kwh).abs() >= options.min_difference_kwh;
        let direction = if score >= options.threshold && far {
            Direction::Above
        } else if options.flag_below && score <= -options.threshold && far {
            Direction::Below
        } else {
            continue;
        };
        flagged.push(HourAnomaly {
            start_ms: hour.start_ms,
            date: hour.date,
            hour: u8::try_from(hour_of_day).unwrap_or(u8::MAX),
            actual_kwh,
            expected_kwh,
            spread_kwh,
            score,
            direction,
        });
    }
    let used: Vec<Interval> = used_keys
        .iter()
        .filter_map(|key| hours.get(key))
        .flat_map(|hour| hour.intervals.iter().copied())
        .collect();
    let method = format!(
        "Each hour's energy against the median and MAD of the same local hour of the week over the previous {} weeks, flagged from a score of {}.",
        options.baseline_weeks, options.threshold
    );
    Ok(Anomalies {
        hours: flagged,
        hours_checked,
        hours_without_baseline,
        basis: Basis::from_intervals(&used, intervals.len() - used.len(), &method)
            .with_note(checked.consumption_note()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::{amsterdam, import, utc_ms};

    const WEEK_H: i64 = 168;

    /// Hourly intervals from `start` (UTC) for `hours` hours, hour `h` using `kwh(h)`.
    fn hourly(start: &str, hours: i64, kwh: impl Fn(i64) -> f64) -> Vec<Interval> {
        let start = utc_ms(start);
        (0..hours)
            .map(|h| import(start + h * 3_600_000, 3600, kwh(h) * 1000.0))
            .collect()
    }

    /// Five weeks from local Monday 2026-01-05 00:00 (UTC+1): 0.50, 0.52, 0.54, 0.56 kWh
    /// an hour in the four baseline weeks and 0.58 in the fifth, with `odd` changing hours
    /// of the fifth week.
    fn five_weeks(odd: impl Fn(i64) -> Option<f64>) -> (Vec<Interval>, Period) {
        let intervals = hourly("2026-01-04T23:00", 5 * WEEK_H, |h| {
            let week = h / WEEK_H;
            odd(h - 4 * WEEK_H)
                .filter(|_| week == 4)
                .unwrap_or(0.50 + 0.02 * week as f64)
        });
        let window = Period {
            from_ms: utc_ms("2026-02-01T23:00"),
            to_ms: utc_ms("2026-02-08T23:00"),
        };
        (intervals, window)
    }

    #[test]
    fn a_spike_is_flagged_with_its_score() {
        // Fifth-week Wednesday 19:00 (hour 2 × 24 + 19) uses 3 kWh.
        let (intervals, window) = five_weeks(|h| (h == 67).then_some(3.0));
        let found = anomalies(&intervals, &amsterdam(), window, &AnomalyOptions::default())
            .expect("anomalies");
        assert_eq!(found.hours_checked, 168);
        assert_eq!(found.hours_without_baseline, 0);
        assert_eq!(found.hours.len(), 1);
        let spike = found.hours[0];
        assert_eq!(spike.date, Date::constant(2026, 2, 4));
        assert_eq!(spike.hour, 19);
        assert_eq!(spike.direction, Direction::Above);
        // Median of 0.50, 0.52, 0.54, 0.56 is 0.53; MAD 0.02 × 1.4826 = 0.0297 is less
        // than 10 % of 0.53, so the spread is 0.053.
        assert!((spike.expected_kwh - 0.53).abs() < 1e-9);
        assert!((spike.spread_kwh - 0.053).abs() < 1e-9);
        assert!((spike.score - (3.0 - 0.53) / 0.053).abs() < 1e-6);
        assert_eq!(found.basis.used, 5 * 168);
    }

    #[test]
    fn dips_only_when_asked() {
        let (intervals, window) = five_weeks(|h| (h == 10).then_some(0.0));
        let tz = amsterdam();
        let above_only =
            anomalies(&intervals, &tz, window, &AnomalyOptions::default()).expect("ok");
        assert!(above_only.hours.is_empty());
        let options = AnomalyOptions {
            flag_below: true,
            ..Default::default()
        };
        let both = anomalies(&intervals, &tz, window, &options).expect("ok");
        assert_eq!(both.hours.len(), 1);
        assert_eq!(both.hours[0].direction, Direction::Below);
        assert!((both.hours[0].score + 10.0).abs() < 1e-9);
    }

    #[test]
    fn small_differences_are_not_flagged() {
        // 0.2 kWh above the 0.53 median scores 3.8, over the threshold, but is less than
        // the 0.25 kWh an hour must differ by.
        let (intervals, window) = five_weeks(|h| (h == 30).then_some(0.73));
        let found =
            anomalies(&intervals, &amsterdam(), window, &AnomalyOptions::default()).expect("ok");
        assert!(found.hours.is_empty());
    }

    #[test]
    fn too_little_history_is_counted() {
        let (intervals, _) = five_weeks(|_| None);
        let window = Period {
            from_ms: utc_ms("2026-01-18T23:00"),
            to_ms: utc_ms("2026-01-25T23:00"),
        };
        let found =
            anomalies(&intervals, &amsterdam(), window, &AnomalyOptions::default()).expect("ok");
        assert_eq!(found.hours_checked, 0);
        assert_eq!(found.hours_without_baseline, 168);
    }

    #[test]
    fn the_night_clocks_go_back_is_not_an_anomaly() {
        // Flat 0.5 kWh an hour for five weeks up to local 2026-10-26; the window is the
        // week holding 25 October, whose 02:00 hour happens twice.
        let intervals = hourly("2026-09-20T22:00", 36 * 24 + 1, |_| 0.5);
        let window = Period {
            from_ms: utc_ms("2026-10-18T22:00"),
            to_ms: utc_ms("2026-10-25T23:00"),
        };
        let found =
            anomalies(&intervals, &amsterdam(), window, &AnomalyOptions::default()).expect("ok");
        assert!(found.hours.is_empty());
        assert_eq!(found.hours_checked, 168);
    }

    #[test]
    fn refusals() {
        let tz = amsterdam();
        let window = Period {
            from_ms: 0,
            to_ms: 1,
        };
        for options in [
            AnomalyOptions {
                baseline_weeks: 0,
                ..Default::default()
            },
            AnomalyOptions {
                min_baseline_weeks: 5,
                ..Default::default()
            },
            AnomalyOptions {
                threshold: f64::NAN,
                ..Default::default()
            },
            AnomalyOptions {
                min_difference_kwh: -1.0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                anomalies(&[], &tz, window, &options),
                Err(AnomalyError::InvalidOptions(_))
            ));
        }
        assert_eq!(
            anomalies(
                &[import(0, 3600, f64::NAN)],
                &tz,
                window,
                &AnomalyOptions::default()
            ),
            Err(AnomalyError::NoData { skipped: 1 })
        );
    }
}
