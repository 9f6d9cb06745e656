//! A meter's bills (list, JSON document, printable HTML), its cost now and per hour or day,
//! and its insights. Consumers reach only their own meters, as everywhere (`visible_meter`).

use super::auth::Caller;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::meters::{RangeQuery, visible_meter};
use super::{AppState, LimitQuery};
use crate::billing::cost::MeterCost;
use crate::billing::cost_series::CostSeries;
use crate::billing::insights::MeterInsights;
use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use joule_store::{BillRecord, Resolution};
use serde::{Deserialize, Serialize};

/// A bill as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BillSummary {
    /// Its id.
    pub id: u64,
    /// The run that made it.
    pub run_id: u64,
    /// The month, `YYYY-MM`.
    pub period: String,
    /// The plan.
    pub plan: String,
    /// ISO currency code.
    pub currency: String,
    /// Digits of the currency's minor unit.
    pub currency_digits: u8,
    /// Total, minor units.
    pub total_minor: i64,
    /// Total as a decimal in the currency.
    pub total: String,
    /// Final (its run finished).
    pub closed: bool,
    /// When it was made, Unix ms.
    pub created_ms: i64,
}

impl From<&BillRecord> for BillSummary {
    fn from(bill: &BillRecord) -> Self {
        Self {
            id: bill.id,
            run_id: bill.run_id,
            period: bill.period.clone(),
            plan: bill.plan.clone(),
            currency: bill.currency.clone(),
            currency_digits: bill.currency_digits,
            total_minor: bill.total_minor,
            total: joule_tariff::format_minor(bill.total_minor, bill.currency_digits),
            closed: bill.closed,
            created_ms: bill.created_ms,
        }
    }
}

/// A meter's bills, newest month first.
#[utoipa::path(get, path = "/api/v1/meters/{id}/bills", tag = "billing",
    params(("id" = String, Path, description = "Meter id"), LimitQuery),
    responses((status = 200, body = [BillSummary]), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<BillSummary>>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let bills = state
        .shared
        .store
        .bills(&meter.id, query.limit_or(24))
        .await?;
    Ok(Json(bills.iter().map(BillSummary::from).collect()))
}

/// The bill `bill_id` of meter `id`, if the caller may see the meter.
async fn meter_bill(
    state: &AppState,
    caller: &Caller,
    id: &str,
    bill_id: u64,
) -> Result<BillRecord, ApiError> {
    let meter = visible_meter(state, caller, id).await?;
    state
        .shared
        .store
        .bill(bill_id)
        .await?
        .filter(|bill| bill.meter == meter.id)
        .ok_or_else(|| ApiError::not_found(format!("no bill {bill_id} of meter `{id}`")))
}

/// A bill document (`joule_tariff::Bill` as JSON: lines, subtotals, energy from registers
/// and intervals with the difference, estimated intervals, findings).
#[utoipa::path(get, path = "/api/v1/meters/{id}/bills/{bill_id}", tag = "billing",
    params(("id" = String, Path, description = "Meter id"), ("bill_id" = u64, Path, description = "Bill id")),
    responses((status = 200, content_type = "application/json", body = Object),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn document(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, bill_id)): ApiPath<(String, u64)>,
) -> Result<impl IntoResponse, ApiError> {
    let bill = meter_bill(&state, &caller, &id, bill_id).await?;
    Ok(([(CONTENT_TYPE, "application/json")], bill.json))
}

/// A bill as a printable HTML page.
#[utoipa::path(get, path = "/api/v1/meters/{id}/bills/{bill_id}/html", tag = "billing",
    params(("id" = String, Path, description = "Meter id"), ("bill_id" = u64, Path, description = "Bill id")),
    responses((status = 200, content_type = "text/html", body = String),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn html(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, bill_id)): ApiPath<(String, u64)>,
) -> Result<impl IntoResponse, ApiError> {
    let record = meter_bill(&state, &caller, &id, bill_id).await?;
    let bill: joule_tariff::Bill =
        serde_json::from_str(&record.json).map_err(ApiError::internal)?;
    Ok((
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        joule_tariff::render_html(&bill),
    ))
}

/// A meter's cost now: today so far, the month so far, the forecast to the month's end,
/// and (plans priced by time) the current and coming prices with the cheapest hours.
#[utoipa::path(get, path = "/api/v1/meters/{id}/cost", tag = "billing",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 200, body = MeterCost), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn cost(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MeterCost>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let store = state.shared.store.as_ref();
    Ok(Json(
        crate::billing::cost::meter_cost(store, &meter, state.shared.now_ms()).await?,
    ))
}

/// A range and the width of its cost buckets.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostSeriesQuery {
    /// Start, Unix ms (inclusive; default: 24 hours before `to_ms`).
    pub from_ms: Option<i64>,
    /// End, Unix ms (exclusive; default: now).
    pub to_ms: Option<i64>,
    /// `hour` or `day` (UTC days); default hours up to 90 days, days beyond. Costs are
    /// priced per interval record, so `raw` and `minute` are refused.
    pub resolution: Option<Resolution>,
}

/// A meter's cost per hour or UTC day over a range, each bucket priced as a bill over it
/// would be (the history chart's cost overlay).
#[utoipa::path(get, path = "/api/v1/meters/{id}/cost/series", tag = "billing",
    params(("id" = String, Path, description = "Meter id"), CostSeriesQuery),
    responses((status = 200, body = CostSeries), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn cost_series(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<CostSeriesQuery>,
) -> Result<Json<CostSeries>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let range = RangeQuery {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
    }
    .range(state.shared.now_ms())?;
    const DAYS_OF_HOURS_MS: i64 = 90 * 86_400_000;
    let resolution =
        query
            .resolution
            .unwrap_or(if range.1.saturating_sub(range.0) <= DAYS_OF_HOURS_MS {
                Resolution::Hour
            } else {
                Resolution::Day
            });
    let bucket_ms = match resolution {
        Resolution::Hour | Resolution::Day => resolution.bucket_ms(),
        Resolution::Raw | Resolution::Minute => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request("costs are priced per interval record: use `hour` or `day`")
    })?;
    let store = state.shared.store.as_ref();
    let plan = crate::billing::meter_plan(store, &meter).await?;
    Ok(Json(
        crate::billing::cost_series::cost_series(store, &meter, &plan, range, bucket_ms).await?,
    ))
}

/// The window of insights.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InsightsQuery {
    /// Days before now to look at (default 30, 1 to 366).
    pub days: Option<u32>,
}

/// A meter's insights, each with what it is based on or why it is not available.
#[utoipa::path(get, path = "/api/v1/meters/{id}/insights", tag = "billing",
    params(("id" = String, Path, description = "Meter id"), InsightsQuery),
    responses((status = 200, body = MeterInsights), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn insights(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<InsightsQuery>,
) -> Result<Json<MeterInsights>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let store = state.shared.store.as_ref();
    let config = &state.shared.config.billing;
    let days = query.days.unwrap_or(30);
    Ok(Json(
        crate::billing::insights::meter_insights(
            store,
            config,
            &meter,
            state.shared.now_ms(),
            days,
        )
        .await?,
    ))
}
