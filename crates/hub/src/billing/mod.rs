//! Billing in the hub: what turns stored records into `joule_tariff` bills, real-time
//! costs and `joule_insights` insights. The pricing itself lives in the pure crates; this
//! module reads the store, converts, calls them and keeps the results.
//!
//! - `convert`: interval records (cumulative registers) to interval energy.
//! - `run`: a billing run over every meter with a tariff, in the background.
//! - `cost`: a meter's cost today and this month, the forecast, prices ahead.
//! - `cost_series`: a meter's cost per hour or day over a range (the history chart).
//! - `insights`: a meter's insights, each with what it is based on.
//! - `market`: forecasts and prices in memory for alert and automation rules.
//! - `prices`: price text read in any of the supported formats, and the HTTP sources the
//!   hub fetches periodically.

pub mod convert;
pub mod cost;
pub mod cost_series;
pub mod insights;
pub mod market;
pub mod prices;
pub mod run;

use convert::MeterIntervals;
use joule_protocol::MeterId;
use joule_store::{Store, StoreError};
use joule_tariff::series_names;
use joule_tariff::{Market, Plan, PriceSeries};

/// Why billing could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A period that is not a month.
    #[error("period `{0}` must be a month, YYYY-MM")]
    BadPeriod(String),
    /// The period's bills are final.
    #[error(
        "period {0} is closed: its bills are final; ask for a rerun to bill it again \
         (`\"rerun\": true` in the API, `--rerun` on the command line)"
    )]
    Closed(String),
    /// The meter names no tariff.
    #[error("meter `{0}` has no tariff")]
    NoTariff(String),
    /// The meter names a tariff that is not stored.
    #[error("tariff `{0}` is not stored")]
    MissingPlan(String),
    /// Price text could not be read or fetched.
    #[error("prices: {0}")]
    Prices(String),
    /// A cost series of more buckets than one answer holds.
    #[error("{buckets} buckets asked for, at most {max}: shorten the range or use days")]
    TooManyBuckets {
        /// Buckets the range holds.
        buckets: i64,
        /// The most allowed.
        max: i64,
    },
    /// The tariff crate refused (a missing price, an instant out of range…).
    #[error("{0}")]
    Pricing(String),
}

/// One day, ms: the margin of records read around a range (boundary reads, the first
/// interval's predecessor).
const MARGIN_MS: i64 = 86_400_000;

/// The first day of a month `YYYY-MM` and of the month after.
pub fn month(period: &str) -> Result<(jiff::civil::Date, jiff::civil::Date), BillingError> {
    let bad = || BillingError::BadPeriod(period.to_owned());
    let (year, month) = period.split_once('-').ok_or_else(bad)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(bad());
    }
    let year: i16 = year.parse().map_err(|_| bad())?;
    let month: i8 = month.parse().map_err(|_| bad())?;
    let first = jiff::civil::Date::new(year, month, 1).map_err(|_| bad())?;
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| bad())?;
    Ok((first, next))
}

/// A meter's interval energy over `[from_ms, to_ms)` from its stored records.
pub async fn meter_intervals(
    store: &dyn Store,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<MeterIntervals, StoreError> {
    let records = store
        .intervals(
            meter,
            from_ms.saturating_sub(MARGIN_MS),
            to_ms.saturating_add(MARGIN_MS),
        )
        .await?;
    Ok(convert::from_records(&records, from_ms, to_ms))
}

/// The market data a plan needs over `[from_ms, to_ms)`: the stored points of every
/// series it names.
pub async fn market_for(
    store: &dyn Store,
    plan: &Plan,
    from_ms: i64,
    to_ms: i64,
) -> Result<Market, BillingError> {
    let mut market = Market::default();
    for name in series_names(plan) {
        let points = store.prices(&name, from_ms, to_ms).await?;
        let series = PriceSeries::new(points)
            .map_err(|error| BillingError::Prices(format!("series `{name}`: {error}")))?;
        market.series.insert(name, series);
    }
    Ok(market)
}

/// The plan a meter is billed on.
pub async fn meter_plan(
    store: &dyn Store,
    meter: &joule_store::MeterRecord,
) -> Result<Plan, BillingError> {
    let name = meter
        .details
        .tariff
        .as_deref()
        .ok_or_else(|| BillingError::NoTariff(meter.id.to_string()))?;
    Ok(store
        .tariff(name)
        .await?
        .ok_or_else(|| BillingError::MissingPlan(name.to_owned()))?
        .plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_yyyy_mm() {
        let (first, next) = month("2026-12").expect("a month");
        assert_eq!(
            (first.to_string(), next.to_string()),
            ("2026-12-01".into(), "2027-01-01".into())
        );
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-00"] {
            assert!(month(bad).is_err(), "{bad}");
        }
    }
}
