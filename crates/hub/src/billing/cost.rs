//! A meter's cost in real time: today so far, this month so far, the forecast to the end
//! of the month, and for plans priced by time the current and coming prices with the
//! cheapest hours ahead. Everything is computed by `joule_tariff` exactly as a bill over
//! the same stretch would be (levies, standing charges and taxes included).

use super::{BillingError, market_for, meter_intervals};
use jiff::{SignedDuration, Timestamp};
use joule_store::{MeterRecord, Store};
use joule_tariff::{
    Basis, CostSoFar, EnergyCharge, ForecastError, Market, Period, Plan, PricePoint, PriceWindow,
    cheapest_block, cheapest_hours, cost_today, forecast_period, format_minor, prices_ahead,
};
use serde::Serialize;

/// How far ahead prices are shown, hours.
pub(crate) const AHEAD_HOURS: i64 = 24;

/// The length of the cheapest block and the number of cheapest hours shown.
const CHEAP_HOURS: u32 = 3;

/// Days averaged for the forecast until the month has a whole day of its own.
const FORECAST_DAYS: u32 = 7;

/// What a stretch of time has cost so far.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostStretch {
    /// First instant (RFC 3339).
    pub from: String,
    /// End, exclusive (RFC 3339).
    pub to: String,
    /// Imported, kWh.
    pub import_kwh: f64,
    /// Exported, kWh.
    pub export_kwh: f64,
    /// Cost, minor units, taxes included.
    pub cost_minor: i64,
    /// Cost as a decimal in the currency.
    pub cost: String,
}

/// The month's expected cost.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostForecast {
    /// Expected cost of the whole month, minor units.
    pub total_minor: i64,
    /// The same as a decimal in the currency.
    pub total: String,
    /// Average cost of a day used for the rest of the month, minor units.
    pub daily_cost_minor: i64,
    /// Local days left in the month.
    pub days_left: f64,
    /// What the daily average comes from.
    pub basis: String,
}

/// Prices now and ahead (plans priced by time: flat, time of use, dynamic).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PricesAhead {
    /// The import energy price in force now (before levies and taxes), per kWh.
    #[schema(value_type = Option<Object>)]
    pub current: Option<PricePoint>,
    /// Prices from now on (at most 24 h, as far as known), neighbours with one price joined.
    #[schema(value_type = Vec<Object>)]
    pub ahead: Vec<PricePoint>,
    /// The cheapest price intervals adding up to 3 hours, in time order.
    #[schema(value_type = Vec<Object>)]
    pub cheapest_hours: Vec<PricePoint>,
    /// The cheapest contiguous 3-hour block and its average price.
    #[schema(value_type = Option<Object>)]
    pub cheapest_block: Option<PriceWindow>,
}

/// A meter's cost now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeterCost {
    /// The meter.
    pub meter: String,
    /// Its plan.
    pub plan: String,
    /// ISO currency code.
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub currency_digits: u8,
    /// The plan's time zone (days and months are local to it).
    pub time_zone: String,
    /// The instant the figures are for (RFC 3339).
    pub now: String,
    /// Since local midnight.
    pub today: CostStretch,
    /// Since the first of the local month.
    pub period: CostStretch,
    /// The month's expected cost.
    pub forecast: CostForecast,
    /// Prices now and ahead, absent for tiered plans (their price depends on use).
    pub prices: Option<PricesAhead>,
    /// Why `prices` is absent, if it is.
    pub prices_note: Option<String>,
    /// What the figures are based on.
    pub based_on: String,
}

/// The cost of `meter` at `now_ms`.
pub async fn meter_cost(
    store: &dyn Store,
    meter: &MeterRecord,
    now_ms: i64,
) -> Result<MeterCost, BillingError> {
    let plan = super::meter_plan(store, meter).await?;
    cost_on_plan(store, meter, &plan, now_ms).await
}

/// The cost of `meter` at `now_ms` on `plan` (its own, read by the caller: many meters
/// share one).
pub async fn cost_on_plan(
    store: &dyn Store,
    meter: &MeterRecord,
    plan: &Plan,
    now_ms: i64,
) -> Result<MeterCost, BillingError> {
    let now = whole_second(now_ms)?;
    let month = month_of(plan, now)?;
    let history_from = month
        .start()
        .min(now - SignedDuration::from_hours(24 * (i64::from(FORECAST_DAYS) + 1)));
    let (from_ms, ahead_ms) = (
        history_from.as_millisecond(),
        (now + SignedDuration::from_hours(AHEAD_HOURS)).as_millisecond(),
    );
    let data = meter_intervals(store, &meter.id, from_ms, now_ms).await?;
    let market = market_for(store, plan, from_ms, ahead_ms).await?;
    let pricing = |error: ForecastError| BillingError::Pricing(error.to_string());
    let today = cost_today(plan, &market, &data.intervals, now).map_err(pricing)?;
    let elapsed_days = (now - month.start()).as_hours() / 24;
    let basis = if elapsed_days >= 1 {
        Basis::PeriodSoFar
    } else {
        Basis::LastDays(FORECAST_DAYS)
    };
    let forecast =
        forecast_period(plan, &market, &data.intervals, month, now, basis).map_err(pricing)?;
    let digits = plan.currency_digits();
    let (prices, prices_note) = match prices_now(plan, &market, now) {
        Ok(prices) => (Some(prices), None),
        Err(note) => (None, Some(note)),
    };
    Ok(MeterCost {
        meter: meter.id.to_string(),
        plan: plan.name().to_owned(),
        currency: plan.currency().to_owned(),
        currency_digits: digits,
        time_zone: plan.time_zone_name().to_owned(),
        now: now.to_string(),
        today: stretch(&today, digits),
        period: stretch(&forecast.so_far, digits),
        forecast: CostForecast {
            total_minor: forecast.total_minor,
            total: format_minor(forecast.total_minor, digits),
            daily_cost_minor: forecast.daily_cost_minor,
            days_left: forecast.days_left_micros as f64 / 1e6,
            basis: match basis {
                Basis::PeriodSoFar => "the month so far".to_owned(),
                Basis::LastDays(days) => format!("the last {days} complete local days"),
            },
        },
        prices,
        prices_note,
        based_on: format!(
            "Energy of {} intervals from the meter's register records up to the last \
             complete one ({} spread over missing records)",
            data.intervals.len(),
            data.spread_intervals
        ),
    })
}

/// `now_ms` as an instant in whole seconds (price intervals start on them).
pub fn whole_second(now_ms: i64) -> Result<Timestamp, BillingError> {
    Timestamp::from_second(now_ms.div_euclid(1000))
        .map_err(|error| BillingError::Pricing(error.to_string()))
}

/// The local month holding `now`: the billing period a forecast is for.
pub fn month_of(plan: &Plan, now: Timestamp) -> Result<Period, BillingError> {
    let today = plan.time_zone().to_offset(now).to_datetime(now).date();
    let first = today.first_of_month();
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .map_err(|error| BillingError::Pricing(error.to_string()))?;
    Period::from_dates(plan, first, next).map_err(|error| BillingError::Pricing(error.to_string()))
}

fn stretch(cost: &CostSoFar, digits: u8) -> CostStretch {
    CostStretch {
        from: cost.period.start().to_string(),
        to: cost.period.end().to_string(),
        import_kwh: cost.import_mwh as f64 / 1e6,
        export_kwh: cost.export_mwh as f64 / 1e6,
        cost_minor: cost.cost_minor,
        cost: format_minor(cost.cost_minor, digits),
    }
}

/// Prices from now as far as they are known (24 h at most), or why there are none.
pub fn prices_now(plan: &Plan, market: &Market, now: Timestamp) -> Result<PricesAhead, String> {
    let mut until = now + SignedDuration::from_hours(AHEAD_HOURS);
    let version = plan
        .versions()
        .iter()
        .rev()
        .find(|v| v.effective_from <= plan.time_zone().to_offset(now).to_datetime(now).date());
    if let Some(EnergyCharge::Dynamic(dynamic)) = version.map(|v| &v.import)
        && dynamic.fallback_price_per_kwh.is_none()
    {
        let known = market
            .series
            .get(&dynamic.series)
            .and_then(|series| series.points().last())
            .map(|point| point.end);
        until = until.min(known.unwrap_or(now));
    }
    if until <= now {
        return Err("no market prices are stored from now on".to_owned());
    }
    let ahead = prices_ahead(plan, market, now, until).map_err(|error| match error {
        ForecastError::Tiered => "a tiered plan's price depends on the use so far".to_owned(),
        other => other.to_string(),
    })?;
    Ok(PricesAhead {
        current: ahead.first().copied(),
        cheapest_hours: cheapest_hours(&ahead, now, CHEAP_HOURS),
        cheapest_block: cheapest_block(&ahead, now, CHEAP_HOURS),
        ahead,
    })
}
