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

/// One hour, ms: the margin [`closed_period_intervals`] reads first. It holds the records
/// next to both boundaries (the first interval's predecessor, the boundary reads) for any
/// interval length up to an hour.
const NEAR_MS: i64 = 3_600_000;

/// One day, ms: the margin of records read around a range (boundary reads across missing
/// records, the first interval's predecessor).
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
    let records = records_around(store, meter, from_ms, to_ms, MARGIN_MS).await?;
    Ok(convert::from_records(&records, from_ms, to_ms))
}

/// The same as [`meter_intervals`] for a period that is over (a billing run's), read
/// closer first: with a record at or before the start and one at or after the end within
/// an hour, nothing further out is a nearest neighbour, so the conversion is the same, and
/// the months on either side of the period are not read. Otherwise it reads as
/// `meter_intervals` does.
pub async fn closed_period_intervals(
    store: &dyn Store,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
) -> Result<MeterIntervals, StoreError> {
    let near = records_around(store, meter, from_ms, to_ms, NEAR_MS).await?;
    let covered = near.first().is_some_and(|first| first.ts_ms <= from_ms)
        && near.last().is_some_and(|last| last.ts_ms >= to_ms);
    if covered {
        return Ok(convert::from_records(&near, from_ms, to_ms));
    }
    meter_intervals(store, meter, from_ms, to_ms).await
}

/// A meter's interval registers in `[from_ms, to_ms)` widened by `margin_ms` on both sides.
async fn records_around(
    store: &dyn Store,
    meter: &MeterId,
    from_ms: i64,
    to_ms: i64,
    margin_ms: i64,
) -> Result<Vec<joule_store::IntervalRegisters>, StoreError> {
    store
        .interval_registers(
            meter,
            from_ms.saturating_sub(margin_ms),
            to_ms.saturating_add(margin_ms),
        )
        .await
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
    use joule_store::{Batch, SqliteStore, Stored};

    /// A closed period read near its boundaries converts as it does with the day's margin,
    /// whether the records around the boundaries are there or missing (then it reads wide).
    #[tokio::test]
    async fn a_closed_period_reads_the_same_near_or_wide() {
        const Q: i64 = 900_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("hub.sqlite")).expect("store");
        let meter = MeterId::new("m-1").expect("id");
        // 2026-06-01 00:00 UTC, and three days of quarters around it but for the hours
        // missing after the second day's start (a boundary to interpolate across).
        let t0 = 1_780_272_000_000;
        let messages = (-96_i64..200)
            .filter(|q| !(100..110).contains(q))
            .zip(1_u64..)
            .map(|(q, seq)| {
                let import_mwh = 1_000 + 250 * u64::try_from(q + 96).expect("positive");
                let record = joule_testkit::interval_record(seq, t0 + q * Q, import_mwh, 7);
                (meter.clone(), Stored::Interval(record))
            })
            .collect();
        store
            .write_batch(&Batch {
                messages,
                ..Batch::default()
            })
            .await
            .expect("write");
        // Whole periods of whole records, and one whose end has no record within an hour.
        for (from_ms, to_ms) in [(t0, t0 + 96 * Q), (t0 + Q, t0 + 50 * Q), (t0, t0 + 104 * Q)] {
            let near = closed_period_intervals(&store, &meter, from_ms, to_ms)
                .await
                .expect("near");
            let wide = meter_intervals(&store, &meter, from_ms, to_ms)
                .await
                .expect("wide");
            assert_eq!(near, wide, "{from_ms}..{to_ms}");
            assert!(near.registers.is_some(), "{from_ms}..{to_ms}");
        }
    }

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
