//! Energy per local calendar month and per local day: the seasonal picture and the days
//! that stood out. Days and months follow the meter's time zone, so a DST day holds its 23
//! or 25 hours and nothing spills into its neighbours.

use crate::basis::Basis;
use crate::series::{Interval, LocalInterval};
use jiff::{civil::Date, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Energy used in one local calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MonthTotal {
    /// Year.
    pub year: i16,
    /// Month (1–12).
    pub month: i8,
    /// Energy used, kWh.
    pub kwh: f64,
    /// Local days of the month with any data (fewer than the month's days: a partial month).
    pub days_with_data: usize,
}

/// Energy per month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthlyTotals {
    /// Oldest first.
    pub months: Vec<MonthTotal>,
    /// What the totals are based on.
    pub basis: Basis,
}

/// Energy used on one local day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayTotal {
    /// Local date.
    pub date: Date,
    /// Energy used, kWh.
    pub kwh: f64,
    /// Hours of data (24 for a complete ordinary day, 23 or 25 on DST days).
    pub data_hours: f64,
}

/// The days with the highest use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopDays {
    /// Highest first.
    pub days: Vec<DayTotal>,
    /// What the ranking is based on.
    pub basis: Basis,
}

/// Why no totals could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TotalsError {
    /// Nothing usable was given.
    #[error("no usable interval ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// The intervals in local time with their basis, or the error for no data.
fn prepare(
    intervals: &[Interval],
    tz: &TimeZone,
    method: &str,
) -> Result<(Vec<LocalInterval>, Basis), TotalsError> {
    crate::basis::local_with_basis(intervals, tz, method)
        .map_err(|skipped| TotalsError::NoData { skipped })
}

/// Energy per local day, in date order.
fn day_totals(local: &[LocalInterval]) -> Vec<DayTotal> {
    let mut days: BTreeMap<Date, DayTotal> = BTreeMap::new();
    for l in local {
        let date = l.start.date();
        let day = days.entry(date).or_insert(DayTotal {
            date,
            kwh: 0.0,
            data_hours: 0.0,
        });
        day.kwh += l.interval.consumption_wh() / 1000.0;
        day.data_hours += f64::from(l.interval.duration_s) / 3600.0;
    }
    days.into_values().collect()
}

/// Energy per local calendar month (an interval counts in the month its start falls in).
pub fn monthly_totals(intervals: &[Interval], tz: &TimeZone) -> Result<MonthlyTotals, TotalsError> {
    let (local, basis) = prepare(
        intervals,
        tz,
        "Energy summed per local calendar month, each interval in the month its start falls in.",
    )?;
    let mut months: BTreeMap<(i16, i8), (f64, BTreeSet<Date>)> = BTreeMap::new();
    for l in &local {
        let date = l.start.date();
        let (wh, days) = months.entry((date.year(), date.month())).or_default();
        *wh += l.interval.consumption_wh();
        days.insert(date);
    }
    let months = months
        .into_iter()
        .map(|((year, month), (wh, days))| MonthTotal {
            year,
            month,
            kwh: wh / 1000.0,
            days_with_data: days.len(),
        })
        .collect();
    Ok(MonthlyTotals { months, basis })
}

/// The `count` local days with the highest use, highest first (the earlier day first on a
/// tie).
pub fn top_days(
    intervals: &[Interval],
    tz: &TimeZone,
    count: usize,
) -> Result<TopDays, TotalsError> {
    let (local, mut basis) = prepare(intervals, tz, "")?;
    let mut days = day_totals(&local);
    basis.method = format!(
        "The {count} local days with the most energy used, out of {} days with data.",
        days.len()
    );
    days.sort_by(|a, b| b.kwh.total_cmp(&a.kwh).then(a.date.cmp(&b.date)));
    days.truncate(count);
    Ok(TopDays { days, basis })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::{amsterdam, import, utc_ms};

    /// Hourly intervals of `w` watts over `[from, to)` UTC.
    fn flat(from: &str, to: &str, w: f64) -> Vec<Interval> {
        (utc_ms(from)..utc_ms(to))
            .step_by(3_600_000)
            .map(|ms| import(ms, 3600, w))
            .collect()
    }

    #[test]
    fn dst_days_total_their_own_hours() {
        // Local 2026-10-24 00:00 to 2026-10-27 00:00 at 1 kW; the 25th has 25 hours.
        let intervals = flat("2026-10-23T22:00", "2026-10-26T23:00", 1000.0);
        let top = top_days(&intervals, &amsterdam(), 2).expect("top days");
        assert_eq!(top.days[0].date, Date::constant(2026, 10, 25));
        assert_eq!(top.days[0].kwh, 25.0);
        assert_eq!(top.days[0].data_hours, 25.0);
        assert_eq!(top.days[1].date, Date::constant(2026, 10, 24));
        assert_eq!(top.days[1].kwh, 24.0);
        let spring = flat("2026-03-27T23:00", "2026-03-30T22:00", 1000.0);
        let bottom = top_days(&spring, &amsterdam(), 3).expect("top days");
        assert_eq!(bottom.days[2].date, Date::constant(2026, 3, 29));
        assert_eq!(bottom.days[2].kwh, 23.0);
    }

    #[test]
    fn months_split_at_local_midnight() {
        // 2026-01-31 22:00 UTC is 23:00 local, still January; 23:00 UTC is February.
        let intervals = flat("2026-01-31T21:00", "2026-02-01T01:00", 500.0);
        let totals = monthly_totals(&intervals, &amsterdam()).expect("totals");
        assert_eq!(
            totals.months,
            vec![
                MonthTotal {
                    year: 2026,
                    month: 1,
                    kwh: 1.0,
                    days_with_data: 1
                },
                MonthTotal {
                    year: 2026,
                    month: 2,
                    kwh: 1.0,
                    days_with_data: 1
                },
            ]
        );
        assert_eq!(totals.basis.used, 4);
    }

    #[test]
    fn no_data_is_an_error() {
        assert_eq!(
            monthly_totals(&[], &amsterdam()),
            Err(TotalsError::NoData { skipped: 0 })
        );
        assert!(top_days(&[import(0, 0, 1.0)], &amsterdam(), 1).is_err());
    }
}
