//! The records every insight reads (interval energy, power samples) and the one check that
//! keeps bad ones (NaN, negative energy, overlaps, impossible instants) out of the arithmetic,
//! so that each insight can count what it skipped instead of failing or guessing.

use jiff::{Timestamp, civil, tz::TimeZone};
use serde::{Deserialize, Serialize};

/// Longest interval accepted, s (one day).
const MAX_INTERVAL_S: u32 = 86_400;

/// Energy metered over one interval (usually 15 minutes or an hour).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Start of the interval, Unix ms (UTC).
    pub start_ms: i64,
    /// Length of the interval, s.
    pub duration_s: u32,
    /// Energy taken from the grid, Wh.
    pub import_wh: f64,
    /// Energy fed into the grid, Wh.
    pub export_wh: f64,
    /// Energy the home's own generation (solar) produced, Wh, when an inverter reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solar_wh: Option<f64>,
}

impl Interval {
    /// End of the interval, Unix ms.
    pub fn end_ms(&self) -> i64 {
        self.start_ms
            .saturating_add(i64::from(self.duration_s).saturating_mul(1000))
    }

    /// Generation used on site, Wh: generation minus export, kept within 0..=generation (a
    /// battery can export more than the panels made). `None` without a generation figure.
    pub fn self_consumed_wh(&self) -> Option<f64> {
        self.solar_wh
            .map(|solar_wh| (solar_wh - self.export_wh).clamp(0.0, solar_wh))
    }

    /// Energy used in the home, Wh: import plus self-consumed generation. Without a
    /// generation figure this is the import alone, all a meter at the grid connection sees.
    pub fn consumption_wh(&self) -> f64 {
        self.import_wh + self.self_consumed_wh().unwrap_or(0.0)
    }

    /// Average power of the home's consumption over the interval, W.
    pub fn consumption_w(&self) -> f64 {
        self.consumption_wh() * 3600.0 / f64::from(self.duration_s.max(1))
    }

    /// Whether every field can be used: energies finite and not negative, a length of one
    /// second to one day, and start and end instants jiff can represent.
    fn is_usable(&self) -> bool {
        let energy_ok = |wh: f64| wh.is_finite() && wh >= 0.0;
        energy_ok(self.import_wh)
            && energy_ok(self.export_wh)
            && self.solar_wh.is_none_or(energy_ok)
            && (1..=MAX_INTERVAL_S).contains(&self.duration_s)
            && Timestamp::from_millisecond(self.start_ms).is_ok()
            && Timestamp::from_millisecond(self.end_ms()).is_ok()
    }
}

/// One power reading, a second or a few seconds apart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerSample {
    /// Instant of the reading, Unix ms (UTC).
    pub ts_ms: i64,
    /// Active power, W: positive while importing, negative while exporting.
    pub p_w: f64,
}

/// A span of time, `[from_ms, to_ms)` Unix ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// Start, Unix ms (inclusive).
    pub from_ms: i64,
    /// End, Unix ms (exclusive).
    pub to_ms: i64,
}

impl Period {
    /// Length, ms.
    pub(crate) fn len_ms(&self) -> i64 {
        self.to_ms.saturating_sub(self.from_ms)
    }

    /// Whether an interval belongs here (its start lies in the period).
    pub(crate) fn holds(&self, interval: &Interval) -> bool {
        (self.from_ms..self.to_ms).contains(&interval.start_ms)
    }
}

/// Intervals that passed the checks, in time order without overlaps, and how many did not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checked {
    pub(crate) intervals: Vec<Interval>,
    pub(crate) skipped: usize,
}

/// An interval with the local date and time its start falls on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LocalInterval {
    pub(crate) interval: Interval,
    pub(crate) start: civil::DateTime,
}

/// Keeps the usable intervals, sorted by start; of intervals that overlap (a resend, a
/// second source) the first one wins. Everything dropped is counted in `skipped`.
pub(crate) fn check(intervals: &[Interval]) -> Checked {
    let mut usable: Vec<Interval> = intervals
        .iter()
        .copied()
        .filter(Interval::is_usable)
        .collect();
    usable.sort_by_key(|interval| interval.start_ms);
    let mut kept: Vec<Interval> = Vec::with_capacity(usable.len());
    for interval in usable {
        if kept
            .last()
            .is_none_or(|last| interval.start_ms >= last.end_ms())
        {
            kept.push(interval);
        }
    }
    Checked {
        skipped: intervals.len() - kept.len(),
        intervals: kept,
    }
}

impl Checked {
    /// The intervals with their local start time in `tz`.
    pub(crate) fn local(&self, tz: &TimeZone) -> Vec<LocalInterval> {
        self.intervals
            .iter()
            .filter_map(|&interval| {
                let start = local_datetime(interval.start_ms, tz)?;
                Some(LocalInterval { interval, start })
            })
            .collect()
    }

    /// A note for the basis when the home exports but no generation series came with the
    /// data: consumption is then the import alone.
    pub(crate) fn consumption_note(&self) -> Option<String> {
        let exports = self.intervals.iter().any(|i| i.export_wh > 0.0);
        let generation_known = self.intervals.iter().all(|i| i.solar_wh.is_some());
        (exports && !generation_known).then(|| {
            "The home exports but not every interval has a generation figure: consumption \
             there is the import alone, which understates daytime use."
                .to_owned()
        })
    }
}

/// The local date and time of a Unix instant in `tz` (`None` outside jiff's range).
pub(crate) fn local_datetime(ms: i64, tz: &TimeZone) -> Option<civil::DateTime> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|ts| tz.to_datetime(ts))
}

/// The local date and time of a Unix instant in `tz`, with instants beyond jiff's range
/// (years before -9999 or after 9999) taken as its first or last instant.
pub(crate) fn local_datetime_clamped(ms: i64, tz: &TimeZone) -> civil::DateTime {
    let bound = if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    };
    tz.to_datetime(Timestamp::from_millisecond(ms).unwrap_or(bound))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An interval of `duration_s` starting at `start_ms` that imports `import_wh`.
    pub(crate) fn import(start_ms: i64, duration_s: u32, import_wh: f64) -> Interval {
        Interval {
            start_ms,
            duration_s,
            import_wh,
            export_wh: 0.0,
            solar_wh: None,
        }
    }

    /// Unix ms of a UTC civil time given as "2026-03-29T01:00".
    pub(crate) fn utc_ms(civil: &str) -> i64 {
        let datetime: civil::DateTime = civil.parse().expect("test datetime");
        TimeZone::UTC
            .to_timestamp(datetime)
            .expect("in range")
            .as_millisecond()
    }

    pub(crate) fn amsterdam() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").expect("bundled tzdb")
    }

    #[test]
    fn check_skips_bad_records_and_overlaps_and_sorts() {
        let good = import(3_600_000, 3600, 100.0);
        let earlier = import(0, 3600, 50.0);
        let records = [
            good,
            import(0, 3600, f64::NAN),
            import(7_200_000, 3600, -1.0),
            import(7_200_000, 0, 1.0),
            import(i64::MAX - 10, 3600, 1.0),
            Interval {
                solar_wh: Some(f64::INFINITY),
                ..import(9_000_000, 900, 1.0)
            },
            earlier,
            import(3_600_000 + 900_000, 900, 10.0),
        ];
        let checked = check(&records);
        assert_eq!(checked.intervals, vec![earlier, good]);
        assert_eq!(checked.skipped, 6);
    }

    #[test]
    fn consumption_adds_self_consumed_generation() {
        let interval = Interval {
            start_ms: 0,
            duration_s: 900,
            import_wh: 100.0,
            export_wh: 300.0,
            solar_wh: Some(500.0),
        };
        assert_eq!(interval.self_consumed_wh(), Some(200.0));
        assert_eq!(interval.consumption_wh(), 300.0);
        assert_eq!(interval.consumption_w(), 1200.0);
        let battery = Interval {
            export_wh: 800.0,
            ..interval
        };
        assert_eq!(battery.self_consumed_wh(), Some(0.0));
        assert_eq!(import(0, 900, 100.0).consumption_wh(), 100.0);
    }

    #[test]
    fn local_time_follows_the_zone() {
        let checked = check(&[import(utc_ms("2026-03-29T01:00"), 3600, 1.0)]);
        let local = checked.local(&amsterdam());
        assert_eq!(local[0].start.hour(), 3);
    }

    #[test]
    fn exporting_without_generation_is_noted() {
        let exporting = Interval {
            export_wh: 10.0,
            ..import(0, 900, 0.0)
        };
        assert!(check(&[exporting]).consumption_note().is_some());
        let with_solar = Interval {
            solar_wh: Some(20.0),
            ..exporting
        };
        assert!(check(&[with_solar]).consumption_note().is_none());
        assert!(check(&[import(0, 900, 1.0)]).consumption_note().is_none());
    }
}
