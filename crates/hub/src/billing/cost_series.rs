//! A meter's cost per bucket (an hour or a UTC day) over a range: the cost overlay of the
//! history chart. Each bucket is priced by `joule_tariff::cost_between`, as the real-time
//! cost is: what a bill over just that bucket would say (energy, levies, the bucket's share
//! of standing charges, taxes), in whole minor units. Buckets without interval records are
//! left out, as the power series leaves out buckets without readings.

use super::cost::whole_second;
use super::{BillingError, market_for, meter_intervals};
use joule_store::{MeterRecord, Store};
use joule_tariff::{Interval, Market, Plan, cost_between};
use serde::Serialize;

/// The most buckets one answer holds (90 days of hours, with room).
pub const MAX_BUCKETS: i64 = 2_200;

/// The cost of one bucket.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostPoint {
    /// Start of the bucket, Unix ms.
    pub ts_ms: i64,
    /// End of the stretch priced, Unix ms: the bucket's end, or the end of its last
    /// interval record when the bucket is not over yet.
    pub end_ms: i64,
    /// Imported in the bucket, kWh.
    pub import_kwh: f64,
    /// Exported in the bucket, kWh.
    pub export_kwh: f64,
    /// Cost, minor units, taxes included; null when the bucket could not be priced (see
    /// `note`).
    pub cost_minor: Option<i64>,
}

/// A meter's cost per bucket over a range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CostSeries {
    /// The meter.
    pub meter: String,
    /// Its plan.
    pub plan: String,
    /// ISO currency code.
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub currency_digits: u8,
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Start asked for, Unix ms.
    pub from_ms: i64,
    /// End asked for, Unix ms.
    pub to_ms: i64,
    /// Buckets with interval records, oldest first (the first starts at or before
    /// `from_ms`, on a bucket boundary).
    pub points: Vec<CostPoint>,
    /// Sum of the priced buckets, minor units.
    pub total_minor: i64,
    /// Why some bucket has no cost, if one has none.
    pub note: Option<String>,
}

/// The cost of `meter` on `plan` (its own) per bucket of `bucket_ms` over
/// `[from_ms, to_ms)`. More than [`MAX_BUCKETS`] buckets is refused.
pub async fn cost_series(
    store: &dyn Store,
    meter: &MeterRecord,
    plan: &Plan,
    (from_ms, to_ms): (i64, i64),
    bucket_ms: i64,
) -> Result<CostSeries, BillingError> {
    // Saturating: a range far out of any real one ends up refused, never overflowing.
    let start_ms = from_ms.div_euclid(bucket_ms).saturating_mul(bucket_ms);
    let buckets = to_ms.saturating_sub(start_ms).saturating_add(bucket_ms - 1) / bucket_ms;
    if buckets > MAX_BUCKETS {
        return Err(BillingError::TooManyBuckets {
            buckets,
            max: MAX_BUCKETS,
        });
    }
    let data = meter_intervals(store, &meter.id, start_ms, to_ms).await?;
    let market = market_for(store, plan, start_ms, to_ms).await?;
    let mut points = Vec::new();
    let mut note = None;
    for group in data
        .intervals
        .chunk_by(|a, b| bucket_of(a, bucket_ms) == bucket_of(b, bucket_ms))
    {
        let bucket_start_ms = bucket_of(&group[0], bucket_ms) * bucket_ms;
        // Intervals are in time order: the last one ends the stretch priced.
        let last_end_ms = group[group.len() - 1].end().as_millisecond();
        let end_ms = last_end_ms.min(bucket_start_ms + bucket_ms);
        match price_bucket(plan, &market, group, bucket_start_ms, end_ms) {
            Ok(point) => points.push(point),
            Err(error) => {
                note.get_or_insert_with(|| error.to_string());
                points.push(CostPoint {
                    ts_ms: bucket_start_ms,
                    end_ms,
                    import_kwh: energy_kwh(group, |i| i.import_mwh),
                    export_kwh: energy_kwh(group, |i| i.export_mwh),
                    cost_minor: None,
                });
            }
        }
    }
    Ok(CostSeries {
        meter: meter.id.to_string(),
        plan: plan.name().to_owned(),
        currency: plan.currency().to_owned(),
        currency_digits: plan.currency_digits(),
        bucket_ms,
        from_ms,
        to_ms,
        total_minor: points.iter().filter_map(|p| p.cost_minor).sum(),
        points,
        note,
    })
}

/// The index of the bucket an interval starts in.
fn bucket_of(interval: &Interval, bucket_ms: i64) -> i64 {
    interval.start.as_millisecond().div_euclid(bucket_ms)
}

fn energy_kwh(intervals: &[Interval], energy_mwh: impl Fn(&Interval) -> i64) -> f64 {
    intervals.iter().map(energy_mwh).sum::<i64>() as f64 / 1e6
}

/// One bucket priced as a bill over `[start_ms, end_ms)` would price it.
fn price_bucket(
    plan: &Plan,
    market: &Market,
    intervals: &[Interval],
    start_ms: i64,
    end_ms: i64,
) -> Result<CostPoint, BillingError> {
    let cost = cost_between(
        plan,
        market,
        intervals,
        whole_second(start_ms)?,
        whole_second(end_ms)?,
    )
    .map_err(|error| BillingError::Pricing(error.to_string()))?;
    Ok(CostPoint {
        ts_ms: start_ms,
        end_ms,
        import_kwh: cost.import_mwh as f64 / 1e6,
        export_kwh: cost.export_mwh as f64 / 1e6,
        cost_minor: Some(cost.cost_minor),
    })
}
