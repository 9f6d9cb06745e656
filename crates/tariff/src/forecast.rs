//! Real-time cost, forecasts and price look-ahead, for the portal and automations.
//!
//! These are pure functions of a plan, market data, interval records and a `now` the
//! caller gives, built on the same billing as a bill, so a cost so far is exactly what a
//! bill over that stretch would say (standing charges pro rata to the instant, levies and
//! taxes included; no minimum bill and no true-up, which belong to a whole period):
//!
//! - [`cost_between`], [`cost_today`] (from local midnight), [`cost_period_so_far`].
//! - [`forecast_period`]: the cost so far plus an average daily cost times the days left
//!   (in local days, fractions counted by each day's own length). The average is that of
//!   the last N complete local days before today ([`Basis::LastDays`]) or of the period so
//!   far ([`Basis::PeriodSoFar`]); with nothing to average, it is zero.
//! - [`prices_ahead`]: the import energy price over a stretch of time (before levies and
//!   taxes) as the plan and market make it: flat, time-of-use, dynamic or critical peak.
//! - [`cheapest_hours`] and [`cheapest_block`]: when to run a flexible load.

use crate::bill::MeterData;
use crate::calendar::{OutOfRange, day_start_s, days_micros, local_date};
use crate::intervals::{Interval, ValidationRules, instant};
use crate::money::{Micros, div_round, saturate};
use crate::period::{Period, PeriodError};
use crate::plan::Plan;
use crate::prepare::{BillError, PreparedPeriod};
use crate::series::{Market, PricePoint};
use crate::timeline::NO_TIERS;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a cost or price could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    /// The stretch of time is empty or out of range.
    #[error(transparent)]
    Period(#[from] PeriodError),
    /// Pricing failed (a missing price, no version in force…).
    #[error(transparent)]
    Bill(#[from] BillError),
    /// Tiered prices depend on the consumption so far, not on the time.
    #[error("a tiered plan has no price by time")]
    Tiered,
}

/// What a stretch of time has cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSoFar {
    /// The stretch.
    pub period: Period,
    /// Imported, mWh.
    pub import_mwh: i64,
    /// Exported, mWh.
    pub export_mwh: i64,
    /// Cost, minor units, taxes included.
    pub cost_minor: i64,
}

/// The cost of `[from, to)` from interval records, as a bill over it would say.
pub fn cost_between(
    plan: &Plan,
    market: &Market,
    intervals: &[Interval],
    from: Timestamp,
    to: Timestamp,
) -> Result<CostSoFar, ForecastError> {
    let period = Period::new(from, to)?;
    let prepared = PreparedPeriod::new(plan, period, market)?;
    let meter = MeterData {
        meter: "",
        intervals,
        registers: None,
        credit_in_mwh: 0,
        rules: ValidationRules::default(),
    };
    let bill = crate::lines::compute(&prepared, &meter, false)?;
    Ok(CostSoFar {
        period,
        import_mwh: bill.energy.import.billed_mwh,
        export_mwh: bill.energy.export.billed_mwh,
        cost_minor: bill.total_minor,
    })
}

/// The cost since local midnight in the plan's zone.
pub fn cost_today(
    plan: &Plan,
    market: &Market,
    intervals: &[Interval],
    now: Timestamp,
) -> Result<CostSoFar, ForecastError> {
    let midnight = local_midnight(plan, now)?;
    cost_between(plan, market, intervals, midnight, now)
}

/// The cost since the start of a billing period (up to its end, if `now` is later).
pub fn cost_period_so_far(
    plan: &Plan,
    market: &Market,
    intervals: &[Interval],
    period: Period,
    now: Timestamp,
) -> Result<CostSoFar, ForecastError> {
    cost_between(
        plan,
        market,
        intervals,
        period.start(),
        now.min(period.end()),
    )
}

fn local_midnight(plan: &Plan, at: Timestamp) -> Result<Timestamp, ForecastError> {
    let zone = plan.time_zone();
    let today = local_date(zone, at.as_second()).map_err(BillError::from)?;
    Ok(instant(day_start_s(zone, today).map_err(BillError::from)?))
}

/// What a forecast averages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The last N complete local days before today.
    LastDays(u32),
    /// The period so far.
    PeriodSoFar,
}

/// A forecast of a period's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// The cost so far.
    pub so_far: CostSoFar,
    /// The average cost of a day, minor units.
    pub daily_cost_minor: i64,
    /// Local days left in the period, in millionths.
    pub days_left_micros: i64,
    /// The expected cost of the whole period, minor units.
    pub total_minor: i64,
}

/// The period's cost so far plus the average daily cost for the days left.
pub fn forecast_period(
    plan: &Plan,
    market: &Market,
    intervals: &[Interval],
    period: Period,
    now: Timestamp,
    basis: Basis,
) -> Result<Forecast, ForecastError> {
    let zone = plan.time_zone();
    let now = now.clamp(period.start(), period.end());
    let so_far = if now > period.start() {
        cost_period_so_far(plan, market, intervals, period, now)?
    } else {
        CostSoFar {
            period,
            import_mwh: 0,
            export_mwh: 0,
            cost_minor: 0,
        }
    };
    let (cost_minor, days_micros_basis) = match basis {
        Basis::LastDays(days) => {
            let today = local_date(zone, now.as_second()).map_err(BillError::from)?;
            let first_date = today
                .checked_sub(jiff::Span::new().days(i64::from(days)))
                .map_err(|_| BillError::from(OutOfRange(today.to_string())))?;
            let first = instant(day_start_s(zone, first_date).map_err(BillError::from)?);
            let midnight = instant(day_start_s(zone, today).map_err(BillError::from)?);
            if days == 0 || first >= midnight {
                (0, 0)
            } else {
                let cost = cost_between(plan, market, intervals, first, midnight)?;
                (cost.cost_minor, i64::from(days) * 1_000_000)
            }
        }
        Basis::PeriodSoFar => {
            let elapsed =
                days_micros(zone, period.start_s(), now.as_second()).map_err(BillError::from)?;
            (so_far.cost_minor, elapsed)
        }
    };
    let daily_cost_minor = if days_micros_basis > 0 {
        saturate(div_round(
            i128::from(cost_minor) * 1_000_000,
            i128::from(days_micros_basis),
        ))
    } else {
        0
    };
    let days_left_micros =
        days_micros(zone, now.as_second(), period.end_s()).map_err(BillError::from)?;
    let rest = div_round(
        i128::from(daily_cost_minor) * i128::from(days_left_micros),
        1_000_000,
    );
    Ok(Forecast {
        so_far,
        daily_cost_minor,
        days_left_micros,
        total_minor: saturate(i128::from(so_far.cost_minor) + rest),
    })
}

/// The import energy price per kWh over `[from, to)`, in time order, neighbours with the
/// same price joined.
pub fn prices_ahead(
    plan: &Plan,
    market: &Market,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<PricePoint>, ForecastError> {
    let prepared = PreparedPeriod::new(plan, Period::new(from, to)?, market)?;
    let mut points: Vec<PricePoint> = Vec::new();
    for slot in &prepared.import {
        if slot.tiers != NO_TIERS {
            return Err(ForecastError::Tiered);
        }
        match points.last_mut() {
            Some(last)
                if last.price_per_kwh == slot.price && last.end.as_second() == slot.start_s =>
            {
                last.end = instant(slot.end_s);
            }
            _ => points.push(PricePoint {
                start: instant(slot.start_s),
                end: instant(slot.end_s),
                price_per_kwh: slot.price,
            }),
        }
    }
    Ok(points)
}

/// The cheapest prices from `from` on adding up to at least `hours` hours (whole price
/// intervals, cheapest first, earlier first among equals), returned in time order.
pub fn cheapest_hours(prices: &[PricePoint], from: Timestamp, hours: u32) -> Vec<PricePoint> {
    let mut ahead: Vec<PricePoint> = prices.iter().filter(|p| p.start >= from).copied().collect();
    ahead.sort_by_key(|p| (p.price_per_kwh, p.start));
    let wanted_s = i64::from(hours) * 3600;
    let mut chosen = Vec::new();
    let mut total_s = 0;
    for point in ahead {
        if total_s >= wanted_s {
            break;
        }
        total_s += point.end.as_second() - point.start.as_second();
        chosen.push(point);
    }
    chosen.sort_by_key(|p| p.start);
    chosen
}

/// A contiguous block of time and its average price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceWindow {
    /// First instant.
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
    /// Time-weighted average price per kWh over the block.
    pub average_price_per_kwh: Micros,
}

/// The `hours`-hour block starting at a price's start (from `from` on) with the lowest
/// average price, over prices without gaps; `None` if no such block fits.
pub fn cheapest_block(prices: &[PricePoint], from: Timestamp, hours: u32) -> Option<PriceWindow> {
    let length_s = i64::from(hours) * 3600;
    if length_s == 0 {
        return None;
    }
    let mut best: Option<(i128, PriceWindow)> = None;
    for (i, first) in prices.iter().enumerate().filter(|(_, p)| p.start >= from) {
        let start_s = first.start.as_second();
        let end_s = start_s + length_s;
        let mut weighted: i128 = 0;
        let mut covered_until = start_s;
        for point in &prices[i..] {
            if point.start.as_second() != covered_until || covered_until >= end_s {
                break;
            }
            let until = point.end.as_second().min(end_s);
            weighted += i128::from(point.price_per_kwh.0) * i128::from(until - covered_until);
            covered_until = until;
        }
        if covered_until < end_s {
            continue;
        }
        if best.as_ref().is_none_or(|(w, _)| weighted < *w) {
            best = Some((
                weighted,
                PriceWindow {
                    start: first.start,
                    end: instant(end_s),
                    average_price_per_kwh: Micros(saturate(div_round(
                        weighted,
                        i128::from(length_s),
                    ))),
                },
            ));
        }
    }
    best.map(|(_, block)| block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hourly(prices: &[i64]) -> Vec<PricePoint> {
        let base: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        prices
            .iter()
            .enumerate()
            .map(|(k, &price)| PricePoint {
                start: instant(base.as_second() + k as i64 * 3600),
                end: instant(base.as_second() + (k as i64 + 1) * 3600),
                price_per_kwh: Micros(price),
            })
            .collect()
    }

    #[test]
    fn cheapest_hours_are_the_lowest_prices_in_time_order() {
        let prices = hourly(&[30, 10, 50, 10, 20, 40]);
        let chosen = cheapest_hours(&prices, prices[0].start, 3);
        let picked: Vec<i64> = chosen.iter().map(|p| p.price_per_kwh.0).collect();
        assert_eq!(picked, [10, 10, 20]);
        assert!(chosen.is_sorted_by_key(|p| p.start));
        // From hour 2 on, hour 1 is no longer a choice.
        let later = cheapest_hours(&prices, prices[2].start, 2);
        assert_eq!(
            later.iter().map(|p| p.price_per_kwh.0).collect::<Vec<_>>(),
            [10, 20]
        );
    }

    #[test]
    fn cheapest_block_is_contiguous() {
        let prices = hourly(&[30, 10, 50, 10, 20, 40]);
        // Two-hour blocks: 20, 30, 30, 15, 30 on average: hours 3 and 4.
        let block = cheapest_block(&prices, prices[0].start, 2).unwrap();
        assert_eq!(block.start, prices[3].start);
        assert_eq!(block.end, prices[4].end);
        assert_eq!(block.average_price_per_kwh, Micros(15));
        assert_eq!(cheapest_block(&prices, prices[0].start, 7), None);
        // A gap breaks a block.
        let mut gappy = prices.clone();
        gappy.remove(4);
        let block = cheapest_block(&gappy, gappy[0].start, 2).unwrap();
        assert_eq!(block.start, gappy[0].start);
    }
}
