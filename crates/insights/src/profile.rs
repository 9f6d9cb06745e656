//! When in the day and the week a home uses its energy: the average daily profile, the
//! weekday/weekend and hour-of-week profiles, and the peak hours. Buckets are local clock
//! hours and hold average power, so DST days (23 or 25 hours) weigh exactly their hours.

use crate::basis::Basis;
use crate::series::{Interval, LocalInterval};
use jiff::{civil::Weekday, tz::TimeZone};
use serde::{Deserialize, Serialize};

/// One local clock hour of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HourBucket {
    /// Local hour of the day (0–23); an interval counts in the hour its start falls in.
    pub hour: u8,
    /// Average power in that hour, W (equal to the average kWh of that hour × 1000);
    /// `None` without data.
    pub avg_w: Option<f64>,
    /// Hours of data behind the average.
    pub data_hours: f64,
}

/// The average day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyProfile {
    /// 24 buckets, 00:00 first.
    pub hours: Vec<HourBucket>,
    /// What the profile is based on.
    pub basis: Basis,
}

/// The average week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeeklyProfile {
    /// Monday to Friday, 24 buckets.
    pub weekday: Vec<HourBucket>,
    /// Saturday and Sunday, 24 buckets.
    pub weekend: Vec<HourBucket>,
    /// Seven days of 24 buckets, Monday first.
    pub hour_of_week: Vec<Vec<HourBucket>>,
    /// What the profile is based on.
    pub basis: Basis,
}

/// An hour of the day with a high average use.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeakHour {
    /// Local hour of the day (0–23).
    pub hour: u8,
    /// Average power in that hour, W.
    pub avg_w: f64,
}

/// The hours of the day with the highest average use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakHours {
    /// Highest first.
    pub hours: Vec<PeakHour>,
    /// What the ranking is based on.
    pub basis: Basis,
}

/// Why no profile could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// Nothing usable was given.
    #[error("no usable interval ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// Energy and time summed into one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sum {
    wh: f64,
    seconds: f64,
}

impl Sum {
    fn add(&mut self, interval: &Interval) {
        self.wh += interval.consumption_wh();
        self.seconds += f64::from(interval.duration_s);
    }

    fn bucket(&self, hour: usize) -> HourBucket {
        let data_hours = self.seconds / 3600.0;
        HourBucket {
            hour: u8::try_from(hour).unwrap_or(u8::MAX),
            avg_w: (self.seconds > 0.0).then(|| self.wh / data_hours),
            data_hours,
        }
    }
}

/// Sums per local hour of the day of the intervals `keep` accepts.
fn hour_sums(local: &[LocalInterval], keep: impl Fn(&LocalInterval) -> bool) -> [Sum; 24] {
    let mut sums = [Sum::default(); 24];
    for l in local.iter().filter(|l| keep(l)) {
        if let Some(sum) = usize::try_from(l.start.hour())
            .ok()
            .and_then(|h| sums.get_mut(h))
        {
            sum.add(&l.interval);
        }
    }
    sums
}

fn buckets(sums: &[Sum; 24]) -> Vec<HourBucket> {
    sums.iter().enumerate().map(|(h, s)| s.bucket(h)).collect()
}

fn is_weekend(l: &LocalInterval) -> bool {
    matches!(l.start.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The intervals in local time with their basis, or the error for no data.
fn prepare(
    intervals: &[Interval],
    tz: &TimeZone,
    method: &str,
) -> Result<(Vec<LocalInterval>, Basis), ProfileError> {
    crate::basis::local_with_basis(intervals, tz, method)
        .map_err(|skipped| ProfileError::NoData { skipped })
}

/// Average power per local hour of the day over all the intervals.
pub fn daily_profile(intervals: &[Interval], tz: &TimeZone) -> Result<DailyProfile, ProfileError> {
    let (local, basis) = prepare(
        intervals,
        tz,
        "Energy per local clock hour divided by the hours of data in it, over every day given.",
    )?;
    Ok(DailyProfile {
        hours: buckets(&hour_sums(&local, |_| true)),
        basis,
    })
}

/// Average power per local hour on weekdays, on weekends, and per hour of the week.
pub fn weekly_profile(
    intervals: &[Interval],
    tz: &TimeZone,
) -> Result<WeeklyProfile, ProfileError> {
    let (local, basis) = prepare(
        intervals,
        tz,
        "Energy per local clock hour divided by the hours of data in it, split by day of the week.",
    )?;
    let hour_of_week = (0..7)
        .map(|day| {
            buckets(&hour_sums(&local, |l| {
                l.start.weekday().to_monday_zero_offset() == day
            }))
        })
        .collect();
    Ok(WeeklyProfile {
        weekday: buckets(&hour_sums(&local, |l| !is_weekend(l))),
        weekend: buckets(&hour_sums(&local, is_weekend)),
        hour_of_week,
        basis,
    })
}

/// The `count` hours of the day with the highest average power, highest first (an earlier
/// hour first on a tie); hours without data are not ranked.
pub fn peak_hours(
    intervals: &[Interval],
    tz: &TimeZone,
    count: usize,
) -> Result<PeakHours, ProfileError> {
    let profile = daily_profile(intervals, tz)?;
    let mut hours: Vec<PeakHour> = profile
        .hours
        .iter()
        .filter_map(|b| {
            Some(PeakHour {
                hour: b.hour,
                avg_w: b.avg_w?,
            })
        })
        .collect();
    hours.sort_by(|a, b| b.avg_w.total_cmp(&a.avg_w).then(a.hour.cmp(&b.hour)));
    hours.truncate(count);
    let mut basis = profile.basis;
    basis.method = format!(
        "The {count} local clock hours with the highest average power in the daily profile."
    );
    Ok(PeakHours { hours, basis })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::{amsterdam, import, utc_ms};

    /// Hourly intervals over `[from, to)` UTC whose power is 100 W × (local hour + 1).
    fn by_local_hour(from: &str, to: &str) -> Vec<Interval> {
        let tz = amsterdam();
        (utc_ms(from)..utc_ms(to))
            .step_by(3_600_000)
            .map(|ms| {
                let hour = crate::series::local_datetime(ms, &tz)
                    .expect("in range")
                    .hour();
                import(ms, 3600, 100.0 * f64::from(hour + 1))
            })
            .collect()
    }

    #[test]
    fn dst_days_keep_local_hours() {
        // Local 2026-03-28 00:00 to 2026-03-31 00:00 (the 23-hour day in the middle) and
        // 2026-10-24 to 2026-10-27 (the 25-hour day in the middle).
        let mut intervals = by_local_hour("2026-03-27T23:00", "2026-03-30T22:00");
        intervals.extend(by_local_hour("2026-10-23T22:00", "2026-10-26T23:00"));
        assert_eq!(intervals.len(), 71 + 73);
        let profile = daily_profile(&intervals, &amsterdam()).expect("profile");
        assert_eq!(profile.hours.len(), 24);
        // Every hour has six hours of data: 02:00 is missing on 29 March and there twice on
        // 25 October.
        for bucket in &profile.hours {
            assert_eq!(bucket.avg_w, Some(100.0 * f64::from(bucket.hour + 1)));
            assert_eq!(bucket.data_hours, 6.0, "hour {}", bucket.hour);
        }
        assert_eq!(profile.basis.used, 144);
    }

    #[test]
    fn only_the_short_day_leaves_an_hour_empty() {
        let intervals = by_local_hour("2026-03-28T23:00", "2026-03-29T22:00");
        let profile = daily_profile(&intervals, &amsterdam()).expect("profile");
        assert_eq!(profile.hours[2].avg_w, None);
        assert_eq!(profile.hours[3].avg_w, Some(400.0));
    }

    #[test]
    fn quarter_hours_average_into_their_hour() {
        let start = utc_ms("2026-01-05T07:00"); // 08:00 local, a Monday
        let intervals: Vec<Interval> = [100.0, 200.0, 300.0, 400.0]
            .iter()
            .enumerate()
            .map(|(k, &wh)| import(start + k as i64 * 900_000, 900, wh))
            .collect();
        let profile = daily_profile(&intervals, &amsterdam()).expect("profile");
        assert_eq!(profile.hours[8].avg_w, Some(1000.0));
        assert_eq!(profile.hours[8].data_hours, 1.0);
    }

    #[test]
    fn weekly_profile_splits_weekends() {
        // Monday 2026-01-05 to Sunday 2026-01-11, 500 W on weekdays and 800 W at weekends.
        let tz = amsterdam();
        let intervals: Vec<Interval> = (utc_ms("2026-01-04T23:00")..utc_ms("2026-01-11T23:00"))
            .step_by(3_600_000)
            .map(|ms| {
                let day = crate::series::local_datetime(ms, &tz)
                    .expect("in range")
                    .weekday();
                let w = if matches!(day, Weekday::Saturday | Weekday::Sunday) {
                    800.0
                } else {
                    500.0
                };
                import(ms, 3600, w)
            })
            .collect();
        let weekly = weekly_profile(&intervals, &tz).expect("weekly");
        assert!(
            weekly
                .weekday
                .iter()
                .all(|b| b.avg_w == Some(500.0) && b.data_hours == 5.0)
        );
        assert!(
            weekly
                .weekend
                .iter()
                .all(|b| b.avg_w == Some(800.0) && b.data_hours == 2.0)
        );
        assert_eq!(weekly.hour_of_week.len(), 7);
        assert_eq!(weekly.hour_of_week[0][13].avg_w, Some(500.0));
        assert_eq!(weekly.hour_of_week[6][13].avg_w, Some(800.0));
        assert_eq!(weekly.hour_of_week[6][13].data_hours, 1.0);
    }

    #[test]
    fn peak_hours_rank_the_highest_averages() {
        let intervals = by_local_hour("2026-01-04T23:00", "2026-01-05T23:00");
        let peaks = peak_hours(&intervals, &amsterdam(), 3).expect("peaks");
        let hours: Vec<u8> = peaks.hours.iter().map(|p| p.hour).collect();
        assert_eq!(hours, vec![23, 22, 21]);
        assert_eq!(peaks.hours[0].avg_w, 2400.0);
    }

    #[test]
    fn no_data_is_an_error() {
        let nan = [import(0, 3600, f64::NAN)];
        assert_eq!(
            daily_profile(&nan, &amsterdam()),
            Err(ProfileError::NoData { skipped: 1 })
        );
        assert!(weekly_profile(&[], &amsterdam()).is_err());
        assert!(peak_hours(&[], &amsterdam(), 3).is_err());
    }
}
