//! A meter's insights from `joule_insights`, each with the basis it carries (records used
//! and skipped, days covered, the method, notes) or the reason it is not available, so the
//! portal never shows a figure without saying what it rests on.
//!
//! Interval energy comes from the stored interval records (`convert`); prices from the
//! meter's plan as `joule_tariff` lays them out over the window; peers are the other
//! meters on the same plan; appliance events come from the stored 1-second live readings
//! of the last day, when there are any.

use super::{BillingError, market_for, meter_intervals};
use crate::config::BillingConfig;
use jiff::Timestamp;
use joule_insights as insights;
use joule_store::{MeterFilter, MeterRecord, Store};
use serde::Serialize;

/// Peers compared with at most.
const MAX_PEERS: usize = 20;

/// Share of each day's price slots counted as peak for the shift potential.
const PEAK_SHARE: f64 = 0.25;

/// Share of the peak use above the baseload assumed movable.
const MOVABLE_SHARE: f64 = 0.5;

/// One insight: its figures with their basis, or why it is missing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Insight {
    /// What it is: `baseload`, `daily_profile`, `weekly_profile`, `peak_hours`,
    /// `top_days`, `monthly_totals`, `previous_period`, `peers`, `shift_potential`,
    /// `anomalies`, `carbon`, `solar`, `appliances`.
    pub kind: &'static str,
    /// The figures, each object with a `basis` saying what it rests on.
    #[schema(value_type = Option<Object>)]
    pub value: Option<serde_json::Value>,
    /// Why there is no value.
    pub unavailable: Option<String>,
}

/// A meter's insights over a window of days.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MeterInsights {
    /// The meter.
    pub meter: String,
    /// First instant of the window, Unix ms.
    pub from_ms: i64,
    /// End of the window, Unix ms.
    pub to_ms: i64,
    /// The time zone days and hours are local to (the plan's).
    pub time_zone: String,
    /// The insights.
    pub insights: Vec<Insight>,
}

fn insight<T: Serialize, E: std::fmt::Display>(
    kind: &'static str,
    result: Result<T, E>,
) -> Insight {
    match result.map(|value| serde_json::to_value(value)) {
        Ok(Ok(value)) => Insight {
            kind,
            value: Some(value),
            unavailable: None,
        },
        Ok(Err(error)) => missing(kind, error.to_string()),
        Err(error) => missing(kind, error.to_string()),
    }
}

fn missing(kind: &'static str, reason: String) -> Insight {
    Insight {
        kind,
        value: None,
        unavailable: Some(reason),
    }
}

/// Interval energy in the insights crate's form.
fn to_insight_intervals(intervals: &[joule_tariff::Interval]) -> Vec<insights::Interval> {
    intervals
        .iter()
        .map(|i| insights::Interval {
            start_ms: i.start.as_millisecond(),
            duration_s: i.duration_s,
            import_wh: i.import_mwh as f64 / 1000.0,
            export_wh: i.export_mwh as f64 / 1000.0,
            solar_wh: None,
        })
        .collect()
}

/// The insights of `meter` over the `days` days before `now_ms`.
pub async fn meter_insights(
    store: &dyn Store,
    config: &BillingConfig,
    meter: &MeterRecord,
    now_ms: i64,
    days: u32,
) -> Result<MeterInsights, BillingError> {
    let plan = super::meter_plan(store, meter).await?;
    let zone = plan.time_zone().clone();
    let window_ms = i64::from(days.clamp(1, 366)) * 86_400_000;
    let window = insights::Period {
        from_ms: now_ms - window_ms,
        to_ms: now_ms,
    };
    // The previous window too (comparison), and eight weeks for the anomaly baseline.
    let history_from = now_ms - (2 * window_ms).max(63 * 86_400_000);
    let data = meter_intervals(store, &meter.id, history_from, now_ms).await?;
    let all = to_insight_intervals(&data.intervals);
    let recent: Vec<insights::Interval> = all
        .iter()
        .filter(|i| i.start_ms >= window.from_ms)
        .copied()
        .collect();
    let market = market_for(store, &plan, window.from_ms, now_ms).await?;
    let prices = window_prices(&plan, &market, window);
    let price = insights::Price {
        per_kwh: average_price(&prices),
        currency: plan.currency().to_owned(),
    };

    let mut list = Vec::new();
    let baseload = insights::baseload(
        &recent,
        &zone,
        now_ms,
        &price,
        &insights::BaseloadOptions::default(),
    );
    let baseload_w = baseload.as_ref().map_or(0.0, |b| b.baseload_w);
    list.push(insight("baseload", baseload));
    list.push(insight(
        "daily_profile",
        insights::daily_profile(&recent, &zone),
    ));
    list.push(insight(
        "weekly_profile",
        insights::weekly_profile(&recent, &zone),
    ));
    list.push(insight(
        "peak_hours",
        insights::peak_hours(&recent, &zone, 3),
    ));
    list.push(insight("top_days", insights::top_days(&recent, &zone, 5)));
    list.push(insight(
        "monthly_totals",
        insights::monthly_totals(&all, &zone),
    ));
    list.push(insight(
        "previous_period",
        insights::compare_with_previous(&all, window),
    ));
    let peers = peer_group(store, meter, window).await?;
    list.push(insight(
        "peers",
        insights::compare_with_peers(&recent, window, &peers),
    ));
    list.push(match &prices {
        Ok(points) => insight(
            "shift_potential",
            insights::shift_potential(
                &recent,
                &zone,
                &insights::ShiftPrices::Dynamic {
                    points: points.clone(),
                    peak_share: PEAK_SHARE,
                },
                &insights::ShiftOptions {
                    baseload_w,
                    share: MOVABLE_SHARE,
                    cap_kwh_per_month: None,
                    currency: plan.currency().to_owned(),
                },
            ),
        ),
        Err(reason) => missing("shift_potential", reason.clone()),
    });
    let last_week = insights::Period {
        from_ms: now_ms - 7 * 86_400_000,
        to_ms: now_ms,
    };
    list.push(insight(
        "anomalies",
        insights::anomalies(&all, &zone, last_week, &insights::AnomalyOptions::default()),
    ));
    list.push(insight(
        "carbon",
        insights::carbon(
            &recent,
            &insights::GridIntensity::Static {
                g_per_kwh: config.grid_intensity_g_per_kwh,
            },
        ),
    ));
    list.push(insight("solar", insights::solar_balance(&recent)));
    list.push(appliances(store, meter, now_ms).await?);
    Ok(MeterInsights {
        meter: meter.id.to_string(),
        from_ms: window.from_ms,
        to_ms: window.to_ms,
        time_zone: plan.time_zone_name().to_owned(),
        insights: list,
    })
}

/// The plan's import prices over the window, as the insights crate takes them.
fn window_prices(
    plan: &joule_tariff::Plan,
    market: &joule_tariff::Market,
    window: insights::Period,
) -> Result<Vec<insights::PricePoint>, String> {
    let instant = |ms: i64| Timestamp::from_millisecond(ms).map_err(|e| e.to_string());
    let points = joule_tariff::prices_ahead(
        plan,
        market,
        instant(window.from_ms)?,
        instant(window.to_ms)?,
    )
    .map_err(|error| format!("no prices by time for plan `{}`: {error}", plan.name()))?;
    Ok(points
        .iter()
        .map(|p| insights::PricePoint {
            start_ms: p.start.as_millisecond(),
            duration_s: u32::try_from(p.end.as_second() - p.start.as_second()).unwrap_or(0),
            per_kwh: p.price_per_kwh.to_f64(),
        })
        .collect())
}

/// The time-weighted average price, 0 without prices.
fn average_price(prices: &Result<Vec<insights::PricePoint>, String>) -> f64 {
    let Ok(points) = prices else { return 0.0 };
    let seconds: f64 = points.iter().map(|p| f64::from(p.duration_s)).sum();
    if seconds == 0.0 {
        return 0.0;
    }
    points
        .iter()
        .map(|p| p.per_kwh * f64::from(p.duration_s))
        .sum::<f64>()
        / seconds
}

/// The other meters on the same plan and their energy over the window.
async fn peer_group(
    store: &dyn Store,
    meter: &MeterRecord,
    window: insights::Period,
) -> Result<insights::PeerGroup, BillingError> {
    let tariff = meter.details.tariff.clone().unwrap_or_default();
    let peers: Vec<MeterRecord> = store
        .meters(&MeterFilter::default())
        .await?
        .into_iter()
        .filter(|m| m.id != meter.id && m.details.tariff.as_deref() == Some(tariff.as_str()))
        .take(MAX_PEERS)
        .collect();
    let mut totals_kwh = Vec::with_capacity(peers.len());
    for peer in &peers {
        let data = meter_intervals(store, &peer.id, window.from_ms, window.to_ms).await?;
        if !data.intervals.is_empty() {
            let mwh: i64 = data.intervals.iter().map(|i| i.import_mwh).sum();
            totals_kwh.push(mwh as f64 / 1e6);
        }
    }
    Ok(insights::PeerGroup {
        description: format!("homes on the tariff `{tariff}` with data in the window"),
        totals_kwh,
    })
}

/// Appliance events in the last day's 1-second live readings.
async fn appliances(
    store: &dyn Store,
    meter: &MeterRecord,
    now_ms: i64,
) -> Result<Insight, BillingError> {
    let readings = store
        .readings(&meter.id, now_ms - 86_400_000, now_ms)
        .await?;
    if readings.is_empty() {
        return Ok(missing(
            "appliances",
            "no 1-second live readings stored in the last 24 hours".to_owned(),
        ));
    }
    let samples: Vec<insights::PowerSample> = readings
        .iter()
        .map(|r| insights::PowerSample {
            ts_ms: r.ts_ms,
            p_w: r.p_w,
        })
        .collect();
    Ok(insight(
        "appliances",
        insights::detect_appliances(&samples, &insights::DetectorOptions::default()),
    ))
}
