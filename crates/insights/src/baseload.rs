//! Baseload: what the home draws when nobody is doing anything (standby, fridge, router,
//! pumps). It is the part of the bill that runs day and night, so it is worth showing
//! with its yearly kWh and cost.

use crate::basis::Basis;
use crate::money::{Money, Price};
use crate::series::{self, Interval};
use crate::stats::median;
use jiff::{civil::Date, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hours in an average year (365.25 days).
const HOURS_PER_YEAR: f64 = 8766.0;

/// Which nights the baseload is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaseloadOptions {
    /// How many of the most recent complete nights to use.
    pub nights: usize,
    /// First local hour of the night window (0–23).
    pub night_start_hour: u8,
    /// Local hour the night window ends at (exclusive, 1–24, after the start).
    pub night_end_hour: u8,
}

impl Default for BaseloadOptions {
    /// The last 14 nights, 00:00–05:00 local time.
    fn default() -> Self {
        Self {
            nights: 14,
            night_start_hour: 0,
            night_end_hour: 5,
        }
    }
}

/// The lowest average power of one night.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NightMinimum {
    /// Local date of the night (the date after midnight).
    pub date: Date,
    /// Lowest interval average power in the night window, W.
    pub minimum_w: f64,
}

/// The always-on power of a home.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseload {
    /// Always-on power, W: the median of the nights' minima.
    pub baseload_w: f64,
    /// Energy the baseload uses in a year, kWh.
    pub yearly_kwh: f64,
    /// What that energy costs in a year at the given price.
    pub yearly_cost: Money,
    /// The nights used, oldest first.
    pub nights: Vec<NightMinimum>,
    /// What the figure is based on.
    pub basis: Basis,
}

/// Why no baseload could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaseloadError {
    /// The options are not usable.
    #[error(
        "night window {start}:00–{end}:00 must start before it ends, within 0–24 h, and at least one night is needed"
    )]
    InvalidOptions {
        /// The start hour given.
        start: u8,
        /// The end hour given.
        end: u8,
    },
    /// The price is NaN or infinite.
    #[error("price {0} per kWh is not a finite number")]
    InvalidPrice(f64),
    /// No interval falls in a night window before `now`.
    #[error("no usable interval in a night window before now ({skipped} records skipped)")]
    NoNights {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// The baseload from the nights complete at `now_ms` (a night still under way is left out),
/// with the yearly energy and its cost at `price`.
pub fn baseload(
    intervals: &[Interval],
    tz: &TimeZone,
    now_ms: i64,
    price: &Price,
    options: &BaseloadOptions,
) -> Result<Baseload, BaseloadError> {
    let (start, end) = (options.night_start_hour, options.night_end_hour);
    if start >= end || end > 24 || options.nights == 0 {
        return Err(BaseloadError::InvalidOptions { start, end });
    }
    if !price.per_kwh.is_finite() {
        return Err(BaseloadError::InvalidPrice(price.per_kwh));
    }
    let checked = series::check(intervals);
    let now = series::local_datetime_clamped(now_ms, tz);
    let complete =
        |date: Date| date < now.date() || (date == now.date() && now.hour() >= end as i8);
    let mut by_night: BTreeMap<Date, Vec<Interval>> = BTreeMap::new();
    for local in checked.local(tz) {
        let hour = u8::try_from(local.start.hour()).unwrap_or(u8::MAX);
        if complete(local.start.date()) && (start..end).contains(&hour) {
            by_night
                .entry(local.start.date())
                .or_default()
                .push(local.interval);
        }
    }
    let recent: Vec<(Date, Vec<Interval>)> = by_night
        .into_iter()
        .rev()
        .take(options.nights)
        .rev()
        .collect();
    let nights: Vec<NightMinimum> = recent
        .iter()
        .map(|(date, night)| NightMinimum {
            date: *date,
            minimum_w: night
                .iter()
                .map(Interval::consumption_w)
                .fold(f64::INFINITY, f64::min),
        })
        .collect();
    let minima: Vec<f64> = nights.iter().map(|night| night.minimum_w).collect();
    let Some(baseload_w) = median(&minima) else {
        return Err(BaseloadError::NoNights {
            skipped: checked.skipped,
        });
    };
    let used: Vec<Interval> = recent.into_iter().flat_map(|(_, night)| night).collect();
    let yearly_kwh = baseload_w * HOURS_PER_YEAR / 1000.0;
    let method = format!(
        "Median over {} nights of the lowest interval average power between {start:02}:00 and {end:02}:00 local time.",
        nights.len()
    );
    Ok(Baseload {
        baseload_w,
        yearly_kwh,
        yearly_cost: Money::new(yearly_kwh * price.per_kwh, &price.currency),
        basis: Basis::from_intervals(&used, intervals.len() - used.len(), &method)
            .with_note(checked.consumption_note()),
        nights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::{amsterdam, import, utc_ms};

    fn euro(per_kwh: f64) -> Price {
        Price {
            per_kwh,
            currency: "€".into(),
        }
    }

    /// Hourly intervals for `days` days from a local midnight in Amsterdam (winter, UTC+1),
    /// using `night_w` between 00:00 and 05:00 and `day_w` otherwise, with one dip per night.
    fn days_of(days: i64, night_w: impl Fn(i64) -> f64, day_w: f64) -> Vec<Interval> {
        let start = utc_ms("2026-01-04T23:00");
        (0..days * 24)
            .map(|h| {
                let local_hour = h % 24;
                let w = if local_hour < 5 {
                    night_w(h / 24)
                } else {
                    day_w
                };
                let w = if local_hour == 3 { w - 20.0 } else { w };
                import(start + h * 3_600_000, 3600, w)
            })
            .collect()
    }

    #[test]
    fn median_of_night_minima_with_yearly_cost() {
        // Night minima 100, 200, 300, 400, 500 W − 20 W dip → median 280 W.
        let intervals = days_of(5, |day| 100.0 * (day + 1) as f64, 900.0);
        let now = utc_ms("2026-01-10T00:00");
        let result = baseload(
            &intervals,
            &amsterdam(),
            now,
            &euro(0.30),
            &Default::default(),
        )
        .expect("baseload");
        assert_eq!(result.baseload_w, 280.0);
        assert!((result.yearly_kwh - 280.0 * 8.766).abs() < 1e-9);
        assert!((result.yearly_cost.amount - 280.0 * 8.766 * 0.30).abs() < 1e-9);
        assert_eq!(result.nights.len(), 5);
        assert_eq!(result.nights[0].date, Date::constant(2026, 1, 5));
        assert_eq!(result.basis.used, 25);
        assert_eq!(result.basis.skipped, 5 * 24 - 25);
    }

    #[test]
    fn only_recent_complete_nights_count() {
        let intervals = days_of(5, |day| 100.0 * (day + 1) as f64, 900.0);
        let options = BaseloadOptions {
            nights: 2,
            ..Default::default()
        };
        // Now is 02:00 local in the fifth night: that night is still under way and left out,
        // so the two most recent are nights 3 and 4.
        let now = utc_ms("2026-01-09T01:00");
        let result = baseload(&intervals, &amsterdam(), now, &euro(0.3), &options).expect("ok");
        let dates: Vec<Date> = result.nights.iter().map(|n| n.date).collect();
        assert_eq!(
            dates,
            vec![Date::constant(2026, 1, 7), Date::constant(2026, 1, 8)]
        );
        // Night 3: 300 − 20; night 4: 400 − 20 → median 330.
        assert_eq!(result.baseload_w, 330.0);
        // At 05:00 local the fifth night is complete.
        let now = utc_ms("2026-01-09T04:00");
        let result = baseload(&intervals, &amsterdam(), now, &euro(0.3), &options).expect("ok");
        assert_eq!(result.nights[1].date, Date::constant(2026, 1, 9));
    }

    #[test]
    fn refuses_what_cannot_give_a_figure() {
        let tz = amsterdam();
        let p = euro(0.3);
        let nights = |start, end| BaseloadOptions {
            nights: 3,
            night_start_hour: start,
            night_end_hour: end,
        };
        assert!(matches!(
            baseload(&[], &tz, 0, &p, &nights(5, 5)),
            Err(BaseloadError::InvalidOptions { .. })
        ));
        assert!(matches!(
            baseload(&[], &tz, 0, &p, &nights(0, 25)),
            Err(BaseloadError::InvalidOptions { .. })
        ));
        assert!(matches!(
            baseload(&[], &tz, 0, &euro(f64::NAN), &nights(0, 5)),
            Err(BaseloadError::InvalidPrice(_))
        ));
        let nan = [import(0, 3600, f64::NAN)];
        assert_eq!(
            baseload(&nan, &tz, i64::MAX, &p, &nights(0, 5)),
            Err(BaseloadError::NoNights { skipped: 1 })
        );
    }

    #[test]
    fn spring_forward_night_has_four_hours() {
        // 2026-03-29: 00:00–05:00 local is 23:00–03:00 UTC, four hours.
        let start = utc_ms("2026-03-28T23:00");
        let intervals: Vec<Interval> = (0..6)
            .map(|h| import(start + h * 3_600_000, 3600, 200.0 + h as f64))
            .collect();
        let result = baseload(
            &intervals,
            &amsterdam(),
            i64::MAX,
            &euro(0.3),
            &Default::default(),
        )
        .expect("ok");
        assert_eq!(result.basis.used, 4);
        assert_eq!(result.baseload_w, 200.0);
    }

    proptest::proptest! {
        #[test]
        fn baseload_is_at_most_the_median_night_average(
            watts in proptest::collection::vec(0.0..5000.0f64, 24..24 * 10),
        ) {
            let start = utc_ms("2026-01-04T23:00");
            let intervals: Vec<Interval> = watts
                .iter()
                .enumerate()
                .map(|(h, &w)| import(start + h as i64 * 3_600_000, 3600, w))
                .collect();
            let options = BaseloadOptions { nights: 100, ..Default::default() };
            let result = baseload(&intervals, &amsterdam(), i64::MAX, &euro(0.3), &options)
                .expect("every series starts with a night");
            let night_averages: Vec<f64> = watts
                .chunks(24)
                .map(|day| {
                    let night = &day[..day.len().min(5)];
                    night.iter().sum::<f64>() / night.len() as f64
                })
                .collect();
            let median_average = median(&night_averages).expect("not empty");
            proptest::prop_assert!(result.baseload_w >= 0.0);
            proptest::prop_assert!(result.baseload_w <= median_average + 1e-9);
            proptest::prop_assert!(result.baseload_w <= watts.iter().cloned().fold(0.0, f64::max));
        }
    }
}
