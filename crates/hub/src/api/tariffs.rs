//! Tariff plans, market prices and billing runs: what operators manage. A plan is sent
//! as its TOML text and checked by `joule_tariff` (errors name the line and key); a
//! replacement may not change any price already in force. Billing runs start in the
//! background and are followed by polling the run.

use super::auth::Caller;
use super::bills::BillSummary;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{AppState, LimitQuery};
use crate::billing;
use crate::config::PriceFormat;
use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use joule_store::{BillingRun, Role, TariffRecord};
use serde::{Deserialize, Serialize};

/// A tariff plan as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TariffView {
    /// Its name.
    pub name: String,
    /// ISO currency code.
    pub currency: String,
    /// IANA time zone its days and times are in.
    pub time_zone: String,
    /// The dates its versions take effect, oldest first.
    pub versions_from: Vec<String>,
    /// The price series it reads (dynamic import, net-billing export).
    pub series: Vec<String>,
    /// When it was stored or last replaced, Unix ms.
    pub updated_ms: i64,
    /// The TOML as given.
    pub toml: String,
}

impl From<TariffRecord> for TariffView {
    fn from(record: TariffRecord) -> Self {
        Self {
            currency: record.plan.currency().to_owned(),
            time_zone: record.plan.time_zone_name().to_owned(),
            versions_from: record
                .plan
                .versions()
                .iter()
                .map(|v| v.effective_from.to_string())
                .collect(),
            series: joule_tariff::series_names(&record.plan),
            name: record.name,
            updated_ms: record.updated_ms,
            toml: record.toml,
        }
    }
}

/// A plan to store.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TariffRequest {
    /// The plan in TOML (see docs/CONFIG.md, "Tariffs").
    pub toml: String,
}

/// Every tariff plan (operators).
#[utoipa::path(get, path = "/api/v1/tariffs", tag = "billing",
    responses((status = 200, body = [TariffView]), (status = 403, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TariffView>>, ApiError> {
    caller.require(Role::Operator)?;
    let tariffs = state.shared.store.tariffs().await?;
    Ok(Json(tariffs.into_iter().map(TariffView::from).collect()))
}

/// Adds a tariff plan (operators). A plan of that name exists already: 409.
#[utoipa::path(post, path = "/api/v1/tariffs", tag = "billing", request_body = TariffRequest,
    responses((status = 201, body = TariffView), (status = 400, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<TariffRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Operator)?;
    let plan = joule_tariff::Plan::from_toml(&request.toml)?;
    let store = &state.shared.store;
    if store.tariff(plan.name()).await?.is_some() {
        return Err(ApiError::conflict(format!(
            "tariff `{}` exists; PUT /api/v1/tariffs/{} replaces it",
            plan.name(),
            plan.name()
        )));
    }
    let record = store
        .put_tariff(&request.toml, state.shared.now_ms())
        .await?;
    store
        .audit(caller.audit("tariff.add", &record.name, ""))
        .await?;
    state.shared.billing_changed();
    Ok((StatusCode::CREATED, Json(TariffView::from(record))))
}

/// One tariff plan (operators).
#[utoipa::path(get, path = "/api/v1/tariffs/{name}", tag = "billing",
    params(("name" = String, Path, description = "Plan name")),
    responses((status = 200, body = TariffView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<TariffView>, ApiError> {
    caller.require(Role::Operator)?;
    let record = state.shared.store.tariff(&name).await?;
    record
        .map(|record| Json(TariffView::from(record)))
        .ok_or_else(|| ApiError::not_found(format!("no tariff `{name}`")))
}

/// Replaces a tariff plan (operators): only versions that take effect after today may
/// change or be added (409 `retroactive_tariff_change` otherwise).
#[utoipa::path(put, path = "/api/v1/tariffs/{name}", tag = "billing", request_body = TariffRequest,
    params(("name" = String, Path, description = "Plan name")),
    responses((status = 200, body = TariffView), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(request): ApiJson<TariffRequest>,
) -> Result<Json<TariffView>, ApiError> {
    caller.require(Role::Operator)?;
    let plan = joule_tariff::Plan::from_toml(&request.toml)?;
    if plan.name() != name {
        return Err(ApiError::bad_request(format!(
            "the plan is named `{}`, not `{name}`",
            plan.name()
        )));
    }
    let store = &state.shared.store;
    if store.tariff(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("no tariff `{name}`")));
    }
    let record = store
        .put_tariff(&request.toml, state.shared.now_ms())
        .await?;
    store
        .audit(caller.audit("tariff.replace", &name, ""))
        .await?;
    state.shared.billing_changed();
    Ok(Json(TariffView::from(record)))
}

/// Deletes a tariff plan no meter is on (operators).
#[utoipa::path(delete, path = "/api/v1/tariffs/{name}", tag = "billing",
    params(("name" = String, Path, description = "Plan name")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    let store = &state.shared.store;
    store.delete_tariff(&name).await?;
    store
        .audit(caller.audit("tariff.delete", &name, ""))
        .await?;
    state.shared.billing_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// How an import's body is written.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `json`, `csv` or `entsoe_csv`; by default from the Content-Type (`text/csv` is CSV,
    /// anything else JSON).
    pub format: Option<PriceFormat>,
    /// For `entsoe_csv`: the bidding zone's IANA time zone.
    pub time_zone: Option<String>,
}

/// What an import stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportResult {
    /// The market.
    pub market: String,
    /// Price points stored (a point at an existing start replaces it).
    pub stored: usize,
}

/// Imports a market's prices (operators): the body is the tariff crate's JSON array or
/// CSV (`start,end,price_per_kwh`), or ENTSO-E's day-ahead CSV.
#[utoipa::path(post, path = "/api/v1/prices/{market}", tag = "billing", params(
        ("market" = String, Path, description = "Series name plans use"), ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 400, body = super::error::ErrorBody)))]
pub async fn import_prices(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(market): ApiPath<String>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<ImportResult>, ApiError> {
    caller.require(Role::Operator)?;
    let csv = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/csv"));
    let format = query.format.unwrap_or(if csv {
        PriceFormat::Csv
    } else {
        PriceFormat::Json
    });
    let store = state.shared.store.as_ref();
    let stored =
        billing::prices::import(store, &market, &body, format, query.time_zone.as_deref()).await?;
    state.shared.billing_changed();
    Ok(Json(ImportResult { market, stored }))
}

/// A stretch of time.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// From, Unix ms (default: now).
    pub from_ms: Option<i64>,
    /// To, Unix ms, exclusive (default: a day after `from_ms`).
    pub to_ms: Option<i64>,
}

/// A market's stored prices overlapping a stretch (any user).
#[utoipa::path(get, path = "/api/v1/prices/{market}", tag = "billing",
    params(("market" = String, Path, description = "Series name"), RangeQuery),
    responses((status = 200, body = [Object])))]
pub async fn prices(
    State(state): State<AppState>,
    _caller: Caller,
    ApiPath(market): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<joule_tariff::PricePoint>>, ApiError> {
    let from_ms = query.from_ms.unwrap_or_else(|| state.shared.now_ms());
    let to_ms = query.to_ms.unwrap_or(from_ms.saturating_add(86_400_000));
    Ok(Json(
        state.shared.store.prices(&market, from_ms, to_ms).await?,
    ))
}

/// A billing run to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RunRequest {
    /// The month, `YYYY-MM`.
    pub period: String,
    /// Bill a closed month again (its bills are replaced).
    #[serde(default)]
    pub rerun: bool,
}

/// Starts a billing run over every meter with a tariff (operators); 202 with the run,
/// whose progress `GET /api/v1/billing/runs/{run_id}` shows. A closed month: 409
/// `period_closed` unless `rerun`.
#[utoipa::path(post, path = "/api/v1/billing/runs", tag = "billing", request_body = RunRequest,
    responses((status = 202, body = BillingRun), (status = 400, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn start_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<RunRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Operator)?;
    let store = std::sync::Arc::clone(&state.shared.store);
    let run = billing::run::start(
        store,
        &request.period,
        request.rerun,
        &caller.user.username,
        state.shared.clock.clone(),
    )
    .await?;
    let detail = if request.rerun { "rerun" } else { "" };
    state
        .shared
        .store
        .audit(caller.audit("billing.run", &request.period, detail))
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// The most recent billing runs (operators).
#[utoipa::path(get, path = "/api/v1/billing/runs", tag = "billing", params(LimitQuery),
    responses((status = 200, body = [BillingRun]), (status = 403, body = super::error::ErrorBody)))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<BillingRun>>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.shared.store.billing_runs(query.limit_or(20)).await?,
    ))
}

/// One billing run: progress while running, the summary when done (operators).
#[utoipa::path(get, path = "/api/v1/billing/runs/{run_id}", tag = "billing",
    params(("run_id" = u64, Path, description = "Run id")),
    responses((status = 200, body = BillingRun), (status = 404, body = super::error::ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<u64>,
) -> Result<Json<BillingRun>, ApiError> {
    caller.require(Role::Operator)?;
    state
        .shared
        .store
        .billing_run(run_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no billing run {run_id}")))
}

/// A bill a run made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunBill {
    /// The meter billed.
    pub meter: String,
    /// The bill.
    #[serde(flatten)]
    pub bill: BillSummary,
}

/// The bills a billing run made (operators).
#[utoipa::path(get, path = "/api/v1/billing/runs/{run_id}/bills", tag = "billing",
    params(("run_id" = u64, Path, description = "Run id"), LimitQuery),
    responses((status = 200, body = [RunBill]), (status = 404, body = super::error::ErrorBody)))]
pub async fn run_bills(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<u64>,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<RunBill>>, ApiError> {
    caller.require(Role::Operator)?;
    let store = &state.shared.store;
    if store.billing_run(run_id).await?.is_none() {
        return Err(ApiError::not_found(format!("no billing run {run_id}")));
    }
    let bills = store.run_bills(run_id, query.limit_or(200)).await?;
    Ok(Json(
        bills
            .iter()
            .map(|bill| RunBill {
                meter: bill.meter.to_string(),
                bill: BillSummary::from(bill),
            })
            .collect(),
    ))
}
