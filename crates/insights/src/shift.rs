//! Time-of-use shift potential: how much energy falls in expensive hours and what moving
//! the flexible part of it (use above the baseload, a share of it, capped) to cheap hours
//! would save. Prices come in as plain numbers so that the hub can feed them from whatever
//! tariff the home is on.

use crate::basis::Basis;
use crate::money::Money;
use crate::series::{self, Interval, LocalInterval};
use jiff::{civil::Date, civil::Weekday, tz::TimeZone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Days in an average month (365.25 / 12).
const DAYS_PER_MONTH: f64 = 30.4375;

/// A fixed daily peak window with two prices.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeakWindow {
    /// Local hour the peak starts (0–23).
    pub start_hour: u8,
    /// Local hour the peak ends (exclusive, 1–24); before `start_hour` for a window that
    /// runs over midnight.
    pub end_hour: u8,
    /// Whether Saturdays and Sundays are off-peak all day.
    pub weekdays_only: bool,
    /// Price of a peak kWh.
    pub peak_per_kwh: f64,
    /// Price of an off-peak kWh.
    pub off_peak_per_kwh: f64,
}

/// The price of energy over one time slot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// Start of the slot, Unix ms.
    pub start_ms: i64,
    /// Length of the slot, s.
    pub duration_s: u32,
    /// Price of one kWh in the slot.
    pub per_kwh: f64,
}

/// The prices the shift is valued at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftPrices {
    /// A fixed peak window: energy moves from the peak to the off-peak price.
    Window(PeakWindow),
    /// Dynamic prices per slot (hourly or quarter-hourly): on each local day the most
    /// expensive `peak_share` of the slots is peak, and energy moves to the mean price of
    /// the day's cheapest `peak_share` of the slots.
    Dynamic {
        /// The prices, in any order.
        points: Vec<PricePoint>,
        /// Share of each day's slots that is peak (0–1, e.g. 0.25).
        peak_share: f64,
    },
}

/// How much of the peak use could move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftOptions {
    /// The home's baseload, W: use at or below it cannot move.
    pub baseload_w: f64,
    /// Share of the use above the baseload in peak hours that could move (0–1).
    pub share: f64,
    /// Most energy that could move in a month, kWh (`None`: no cap).
    pub cap_kwh_per_month: Option<f64>,
    /// A symbol ("€") or ISO 4217 code ("EUR") for the saving.
    pub currency: String,
}

/// What moving energy out of peak hours is worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftPotential {
    /// Energy used in peak hours, kWh per month.
    pub peak_kwh_per_month: f64,
    /// The part of it above the baseload, in hours dearer than the cheap price, kWh per
    /// month.
    pub shiftable_kwh_per_month: f64,
    /// What would move: the share of the shiftable energy, capped, kWh per month.
    pub moved_kwh_per_month: f64,
    /// Saving per month from moving it.
    pub saving_per_month: Money,
    /// The finding for people: "Moving 12 kWh a month from peak saves €4.10 a month."
    pub sentence: String,
    /// What the figures are based on.
    pub basis: Basis,
}

/// Why no shift potential could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShiftError {
    /// An option or a price is out of range or not a number.
    #[error("{name} = {value} is not usable")]
    InvalidInput {
        /// Which input.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// No usable interval (with a price, for dynamic prices).
    #[error("no usable interval with a price ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// Peak price and the cheap price energy would move to, for one interval in peak hours.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Peak {
    price: f64,
    target: f64,
}

/// No dynamic price covers an interval's start.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MissingPrice;

/// Which intervals are peak, and at what prices.
enum Classifier {
    Window(PeakWindow),
    Dynamic {
        points: Vec<PricePoint>,
        /// Per local day: the lowest peak price and the cheap price.
        days: BTreeMap<Date, Peak>,
    },
}

impl Classifier {
    fn new(prices: &ShiftPrices, tz: &TimeZone) -> Result<Self, ShiftError> {
        match prices {
            ShiftPrices::Window(window) => {
                let hours_ok = window.start_hour < 24
                    && (1..=24).contains(&window.end_hour)
                    && window.start_hour != window.end_hour;
                if !hours_ok {
                    return invalid("peak window hours", f64::from(window.start_hour));
                }
                finite("peak price", window.peak_per_kwh)?;
                finite("off-peak price", window.off_peak_per_kwh)?;
                Ok(Self::Window(*window))
            }
            ShiftPrices::Dynamic { points, peak_share } => {
                if !(*peak_share > 0.0 && *peak_share <= 1.0) {
                    return invalid("peak share", *peak_share);
                }
                let mut points: Vec<PricePoint> = points
                    .iter()
                    .copied()
                    .filter(|p| p.per_kwh.is_finite() && p.duration_s > 0)
                    .collect();
                points.sort_by_key(|p| p.start_ms);
                let days = day_prices(&points, *peak_share, tz);
                Ok(Self::Dynamic { points, days })
            }
        }
    }

    /// The peak prices of an interval, `None` off-peak.
    fn classify(&self, local: &LocalInterval) -> Result<Option<Peak>, MissingPrice> {
        match self {
            Self::Window(window) => {
                let hour = u8::try_from(local.start.hour()).unwrap_or(u8::MAX);
                let in_window = if window.start_hour < window.end_hour {
                    (window.start_hour..window.end_hour).contains(&hour)
                } else {
                    hour >= window.start_hour || hour < window.end_hour
                };
                let weekend = matches!(local.start.weekday(), Weekday::Saturday | Weekday::Sunday);
                Ok(
                    (in_window && !(window.weekdays_only && weekend)).then_some(Peak {
                        price: window.peak_per_kwh,
                        target: window.off_peak_per_kwh,
                    }),
                )
            }
            Self::Dynamic { points, days } => {
                let start_ms = local.interval.start_ms;
                let index = points.partition_point(|p| p.start_ms <= start_ms);
                let point = index.checked_sub(1).and_then(|k| points.get(k));
                let price = point
                    .filter(|p| {
                        start_ms < p.start_ms.saturating_add(i64::from(p.duration_s) * 1000)
                    })
                    .ok_or(MissingPrice)?
                    .per_kwh;
                let day = days.get(&local.start.date()).ok_or(MissingPrice)?;
                Ok((price >= day.price && price > day.target).then_some(Peak {
                    price,
                    target: day.target,
                }))
            }
        }
    }
}

/// Per local day of the price slots: the lowest price among the dearest `share` of the
/// slots, and the mean of the cheapest `share`.
fn day_prices(points: &[PricePoint], share: f64, tz: &TimeZone) -> BTreeMap<Date, Peak> {
    let mut by_day: BTreeMap<Date, Vec<f64>> = BTreeMap::new();
    for point in points {
        if let Some(start) = series::local_datetime(point.start_ms, tz) {
            by_day.entry(start.date()).or_default().push(point.per_kwh);
        }
    }
    by_day
        .into_iter()
        .map(|(date, mut prices)| {
            prices.sort_by(f64::total_cmp);
            let count = ((prices.len() as f64 * share).ceil() as usize).clamp(1, prices.len());
            let target = prices[..count].iter().sum::<f64>() / count as f64;
            let price = prices[prices.len() - count];
            (date, Peak { price, target })
        })
        .collect()
}

fn invalid<T>(name: &'static str, value: f64) -> Result<T, ShiftError> {
    Err(ShiftError::InvalidInput { name, value })
}

fn finite(name: &'static str, value: f64) -> Result<(), ShiftError> {
    if value.is_finite() {
        Ok(())
    } else {
        invalid(name, value)
    }
}

fn check_options(options: &ShiftOptions) -> Result<(), ShiftError> {
    if !(options.baseload_w.is_finite() && options.baseload_w >= 0.0) {
        return invalid("baseload_w", options.baseload_w);
    }
    if !(0.0..=1.0).contains(&options.share) {
        return invalid("share", options.share);
    }
    match options.cap_kwh_per_month {
        Some(cap) if !(cap.is_finite() && cap >= 0.0) => invalid("cap_kwh_per_month", cap),
        _ => Ok(()),
    }
}

/// kWh for a sentence: whole kWh from 10 up, one decimal below.
fn kwh_words(kwh: f64) -> String {
    if kwh >= 10.0 {
        format!("{kwh:.0}")
    } else {
        format!("{kwh:.1}")
    }
}

/// How many kWh a month fall in peak hours and what moving the flexible part would save.
pub fn shift_potential(
    intervals: &[Interval],
    tz: &TimeZone,
    prices: &ShiftPrices,
    options: &ShiftOptions,
) -> Result<ShiftPotential, ShiftError> {
    check_options(options)?;
    let classifier = Classifier::new(prices, tz)?;
    let checked = series::check(intervals);
    let (mut used, mut peak_wh, mut shiftable_wh, mut spread_wh) = (Vec::new(), 0.0, 0.0, 0.0);
    for local in checked.local(tz) {
        let Ok(peak) = classifier.classify(&local) else {
            continue;
        };
        used.push(local.interval);
        let Some(peak) = peak else { continue };
        let consumption_wh = local.interval.consumption_wh();
        let base_wh = options.baseload_w * f64::from(local.interval.duration_s) / 3600.0;
        let above_wh = (consumption_wh - base_wh).max(0.0);
        peak_wh += consumption_wh;
        shiftable_wh += above_wh;
        spread_wh += above_wh * (peak.price - peak.target);
    }
    let skipped = intervals.len() - used.len();
    if used.is_empty() {
        return Err(ShiftError::NoData { skipped });
    }
    let mut basis = Basis::from_intervals(&used, skipped, "");
    let per_month = DAYS_PER_MONTH / basis.covered_days / 1000.0;
    let shiftable_kwh_per_month = shiftable_wh * per_month;
    let moved_kwh_per_month = (shiftable_kwh_per_month * options.share)
        .min(options.cap_kwh_per_month.unwrap_or(f64::INFINITY));
    let spread_per_kwh = if shiftable_wh > 0.0 {
        spread_wh / shiftable_wh
    } else {
        0.0
    };
    let saving_per_month = Money::new(moved_kwh_per_month * spread_per_kwh, &options.currency);
    let sentence = if moved_kwh_per_month > 0.0 {
        format!(
            "Moving {} kWh a month from peak saves {} a month.",
            kwh_words(moved_kwh_per_month),
            saving_per_month.display()
        )
    } else {
        "No use above the baseload falls in peak hours: there is nothing to move.".to_owned()
    };
    basis.method = format!(
        "Use above the {:.0} W baseload in peak hours, {:.0} % of it{}, valued at the peak minus the cheap price, scaled to a month.",
        options.baseload_w,
        options.share * 100.0,
        options
            .cap_kwh_per_month
            .map_or(String::new(), |cap| format!(" up to {cap:.0} kWh a month")),
    );
    Ok(ShiftPotential {
        peak_kwh_per_month: peak_wh * per_month,
        shiftable_kwh_per_month,
        moved_kwh_per_month,
        saving_per_month,
        sentence,
        basis: basis.with_note(checked.consumption_note()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::{amsterdam, import, utc_ms};

    fn options(share: f64, cap: Option<f64>) -> ShiftOptions {
        ShiftOptions {
            baseload_w: 100.0,
            share,
            cap_kwh_per_month: cap,
            currency: "€".into(),
        }
    }

    fn peak_window(weekdays_only: bool) -> PeakWindow {
        PeakWindow {
            start_hour: 17,
            end_hour: 21,
            weekdays_only,
            peak_per_kwh: 0.40,
            off_peak_per_kwh: 0.25,
        }
    }

    fn window(weekdays_only: bool) -> ShiftPrices {
        ShiftPrices::Window(peak_window(weekdays_only))
    }

    /// Hourly intervals for `days` local days from Monday 2026-01-05 (Amsterdam, UTC+1):
    /// 1100 W from 17:00 to 21:00, 300 W otherwise.
    fn evenings(days: i64) -> Vec<Interval> {
        let start = utc_ms("2026-01-04T23:00");
        (0..days * 24)
            .map(|h| {
                let w = if (17..21).contains(&(h % 24)) {
                    1100.0
                } else {
                    300.0
                };
                import(start + h * 3_600_000, 3600, w)
            })
            .collect()
    }

    #[test]
    fn peak_window_saving_by_hand() {
        // Per day: 4 peak hours × 1.1 kWh = 4.4 kWh peak, 4 × 1.0 kWh above the 100 W
        // baseload. A month of 30.4375 days: 133.925 kWh peak, 121.75 kWh shiftable; half
        // moves: 60.875 kWh at 0.15 a kWh = 9.13125.
        let result = shift_potential(
            &evenings(5),
            &amsterdam(),
            &window(false),
            &options(0.5, None),
        )
        .expect("shift");
        assert!((result.peak_kwh_per_month - 133.925).abs() < 1e-9);
        assert!((result.shiftable_kwh_per_month - 121.75).abs() < 1e-9);
        assert!((result.moved_kwh_per_month - 60.875).abs() < 1e-9);
        assert!((result.saving_per_month.amount - 9.13125).abs() < 1e-9);
        assert_eq!(
            result.sentence,
            "Moving 61 kWh a month from peak saves €9.13 a month."
        );
        assert_eq!(result.basis.used, 120);
    }

    #[test]
    fn cap_limits_what_moves() {
        let result = shift_potential(
            &evenings(5),
            &amsterdam(),
            &window(false),
            &options(1.0, Some(12.0)),
        )
        .expect("shift");
        assert_eq!(result.moved_kwh_per_month, 12.0);
        assert!((result.saving_per_month.amount - 1.8).abs() < 1e-9);
        assert_eq!(
            result.sentence,
            "Moving 12 kWh a month from peak saves €1.80 a month."
        );
    }

    #[test]
    fn weekends_can_be_off_peak() {
        // Monday to Sunday: only five of the seven evenings are peak.
        let all = shift_potential(
            &evenings(7),
            &amsterdam(),
            &window(false),
            &options(1.0, None),
        )
        .expect("ok");
        let weekdays = shift_potential(
            &evenings(7),
            &amsterdam(),
            &window(true),
            &options(1.0, None),
        )
        .expect("ok");
        assert!((weekdays.peak_kwh_per_month / all.peak_kwh_per_month - 5.0 / 7.0).abs() < 1e-9);
    }

    #[test]
    fn window_over_midnight() {
        let prices = ShiftPrices::Window(PeakWindow {
            start_hour: 22,
            end_hour: 2,
            weekdays_only: false,
            peak_per_kwh: 0.3,
            off_peak_per_kwh: 0.2,
        });
        // Four peak hours a day at 300 W: 1.2 kWh a day.
        let result =
            shift_potential(&evenings(1), &amsterdam(), &prices, &options(1.0, None)).expect("ok");
        assert!((result.peak_kwh_per_month - 1.2 * DAYS_PER_MONTH).abs() < 1e-9);
    }

    #[test]
    fn dynamic_prices_move_from_the_dearest_to_the_cheapest_slots() {
        // One local day of hourly prices: 0.10 at hours 0–5, 0.50 at 17–20, 0.30 otherwise.
        // A quarter of 24 slots is 6: the dearest six are 0.50 ×4 and 0.30 ×2, so every
        // slot priced 0.30 or more is peak; the cheapest six average 0.10. The home uses
        // 1100 W in the evening and its 100 W baseload otherwise.
        let start = utc_ms("2026-01-04T23:00");
        let price = |h: i64| match h {
            0..6 => 0.10,
            17..21 => 0.50,
            _ => 0.30,
        };
        let points: Vec<PricePoint> = (0..24)
            .map(|h| PricePoint {
                start_ms: start + h * 3_600_000,
                duration_s: 3600,
                per_kwh: price(h),
            })
            .collect();
        let intervals: Vec<Interval> = (0..24)
            .map(|h| {
                let w = if (17..21).contains(&h) { 1100.0 } else { 100.0 };
                import(start + h * 3_600_000, 3600, w)
            })
            .collect();
        let prices = ShiftPrices::Dynamic {
            points,
            peak_share: 0.25,
        };
        let result =
            shift_potential(&intervals, &amsterdam(), &prices, &options(1.0, None)).expect("ok");
        // Peak: 4 × 1.1 + 14 × 0.1 (the 0.30 hours) = 5.8 kWh a day; shiftable 4 × 1.0.
        assert!((result.peak_kwh_per_month - 5.8 * DAYS_PER_MONTH).abs() < 1e-9);
        assert!((result.shiftable_kwh_per_month - 4.0 * DAYS_PER_MONTH).abs() < 1e-9);
        assert!((result.saving_per_month.amount - 4.0 * DAYS_PER_MONTH * 0.40).abs() < 1e-9);
    }

    #[test]
    fn intervals_without_a_dynamic_price_are_skipped() {
        let prices = ShiftPrices::Dynamic {
            points: vec![],
            peak_share: 0.25,
        };
        assert_eq!(
            shift_potential(&evenings(1), &amsterdam(), &prices, &options(0.5, None)),
            Err(ShiftError::NoData { skipped: 24 })
        );
        let flat = ShiftPrices::Dynamic {
            points: vec![PricePoint {
                start_ms: utc_ms("2026-01-04T23:00"),
                duration_s: 7200,
                per_kwh: 0.2,
            }],
            peak_share: 0.25,
        };
        let result =
            shift_potential(&evenings(1), &amsterdam(), &flat, &options(0.5, None)).expect("ok");
        assert_eq!(result.basis.used, 2);
        assert_eq!(result.basis.skipped, 22);
        assert_eq!(result.moved_kwh_per_month, 0.0);
        assert!(result.sentence.starts_with("No use above the baseload"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let tz = amsterdam();
        let data = evenings(1);
        for bad in [
            options(1.5, None),
            options(f64::NAN, None),
            options(0.5, Some(-1.0)),
        ] {
            assert!(matches!(
                shift_potential(&data, &tz, &window(false), &bad),
                Err(ShiftError::InvalidInput { .. })
            ));
        }
        let nan_price = ShiftPrices::Window(PeakWindow {
            peak_per_kwh: f64::NAN,
            ..peak_window(false)
        });
        assert!(shift_potential(&data, &tz, &nan_price, &options(0.5, None)).is_err());
        let share = ShiftPrices::Dynamic {
            points: vec![],
            peak_share: 0.0,
        };
        assert!(shift_potential(&data, &tz, &share, &options(0.5, None)).is_err());
        assert_eq!(
            shift_potential(&[], &tz, &window(false), &options(0.5, None)),
            Err(ShiftError::NoData { skipped: 0 })
        );
    }
}
