//! Meters: the registry, latest readings, series, records, gaps, CSV export and the live
//! stream. Consumers reach only their own meters; a foreign meter is "not found", so its
//! existence is not revealed either.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use joule_protocol::{EventMessage, IntervalRecord, LiveReading, MeterId};
use joule_store::tokens;
use joule_store::{
    Gap, MeterDetails, MeterFilter, MeterRecord, NewMeter, Resolution, Role, SeriesPoint,
};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;

/// The meter `id` if the caller may see it (a foreign or unknown meter is 404 alike).
pub async fn visible_meter(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<MeterRecord, ApiError> {
    let not_found = || ApiError::not_found(format!("no meter `{id}`"));
    let id = MeterId::new(id).map_err(|_| not_found())?;
    let meter = state.shared.store.meter(&id).await?.ok_or_else(not_found)?;
    if caller.may_see(&meter) {
        Ok(meter)
    } else {
        Err(not_found())
    }
}

/// Filters and paging of the meter list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this consumer's meters (operators and admins).
    pub owner: Option<String>,
    /// Only this feeder.
    pub feeder: Option<String>,
    /// Only this transformer.
    pub transformer: Option<String>,
    /// Id or name contains this.
    pub q: Option<String>,
    /// Skip this many.
    #[serde(default)]
    pub offset: u32,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Lists the meters the caller may see.
#[utoipa::path(get, path = "/api/v1/meters", tag = "meters", params(ListQuery),
    responses((status = 200, body = [MeterRecord]), (status = 401, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<MeterRecord>>, ApiError> {
    let owner = if caller.user.role >= Role::Operator {
        query.owner
    } else {
        Some(caller.user.username.clone())
    };
    let filter = MeterFilter {
        owner,
        feeder: query.feeder,
        transformer: query.transformer,
        search: query.q,
        offset: query.offset,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    Ok(Json(state.shared.store.meters(&filter).await?))
}

/// A meter to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MeterRequest {
    /// Its id (its MQTT username): letters, digits, `-`, `_`, `.`.
    pub id: String,
    /// Name, owner, location, grid position, tariff, installation date.
    #[serde(flatten)]
    pub details: MeterDetails,
}

/// A registered meter and its device token, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeterCreated {
    /// The meter.
    pub meter: MeterRecord,
    /// Its device token (the MQTT password). Only its hash is kept.
    pub token: String,
}

/// Registers a meter (admin).
#[utoipa::path(post, path = "/api/v1/meters", tag = "meters", request_body = MeterRequest,
    responses((status = 201, body = MeterCreated), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<MeterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Admin)?;
    let id = MeterId::new(&request.id).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let token = tokens::generate();
    let store = &state.shared.store;
    store
        .add_meter(
            NewMeter::with_token(id.clone(), request.details, &token),
            state.shared.now_ms(),
        )
        .await?;
    store
        .audit(caller.audit("meter.add", id.as_str(), ""))
        .await?;
    state.shared.billing_changed();
    let meter = store
        .meter(&id)
        .await?
        .ok_or_else(|| ApiError::internal("a meter just added is missing"))?;
    Ok((StatusCode::CREATED, Json(MeterCreated { meter, token })))
}

/// Revokes a meter's token (admin): it can no longer connect.
#[utoipa::path(post, path = "/api/v1/meters/{id}/revoke", tag = "meters",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 204), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let meter = visible_meter(&state, &caller, &id).await?;
    state.shared.store.revoke_meter(&meter.id).await?;
    state
        .shared
        .store
        .audit(caller.audit("meter.revoke", meter.id.as_str(), ""))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A meter's new owner.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OwnerRequest {
    /// The consumer's username, or null for nobody.
    pub owner: Option<String>,
}

/// Gives a meter to a consumer (admin).
#[utoipa::path(put, path = "/api/v1/meters/{id}/owner", tag = "meters",
    params(("id" = String, Path, description = "Meter id")), request_body = OwnerRequest,
    responses((status = 204), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn set_owner(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<OwnerRequest>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    let meter = visible_meter(&state, &caller, &id).await?;
    let store = &state.shared.store;
    if let Some(owner) = &request.owner {
        store
            .user(owner)
            .await?
            .ok_or_else(|| ApiError::bad_request(format!("no user `{owner}`")))?;
    }
    store
        .set_meter_owner(&meter.id, request.owner.as_deref())
        .await?;
    let detail = request.owner.unwrap_or_else(|| "(nobody)".to_owned());
    store
        .audit(caller.audit("meter.owner", meter.id.as_str(), detail))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One meter.
#[utoipa::path(get, path = "/api/v1/meters/{id}", tag = "meters",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 200, body = MeterRecord), (status = 404, body = super::error::ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<MeterRecord>, ApiError> {
    Ok(Json(visible_meter(&state, &caller, &id).await?))
}

/// A meter's latest live reading.
#[utoipa::path(get, path = "/api/v1/meters/{id}/latest", tag = "meters",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 200, body = Object, description = "The live reading (docs/PROTOCOL.md)"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn latest(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<LiveReading>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let reading = state.shared.store.latest_reading(&meter.id).await?;
    reading
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("meter `{id}` has sent no reading yet")))
}

/// A time range.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start, Unix ms (inclusive; default: 24 hours before `to_ms`).
    pub from_ms: Option<i64>,
    /// End, Unix ms (exclusive; default: now).
    pub to_ms: Option<i64>,
}

impl RangeQuery {
    /// The range asked for, ending now (`now_ms`) unless it says otherwise.
    pub(super) fn range(&self, now_ms: i64) -> Result<(i64, i64), ApiError> {
        let to_ms = self.to_ms.unwrap_or(now_ms);
        let from_ms = self.from_ms.unwrap_or(to_ms - 86_400_000);
        if from_ms >= to_ms {
            return Err(ApiError::bad_request("from_ms must be before to_ms"));
        }
        Ok((from_ms, to_ms))
    }
}

/// A range and a resolution.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// Start, Unix ms (inclusive; default: 24 hours before `to_ms`).
    pub from_ms: Option<i64>,
    /// End, Unix ms (exclusive; default: now).
    pub to_ms: Option<i64>,
    /// `raw`, `minute`, `hour` or `day`; default chosen from the range (raw up to 2 h,
    /// minutes up to 2 days, hours up to 90 days, days beyond), and, for a range whose
    /// readings retention has removed, the next coarser one that has points (up to hours).
    pub resolution: Option<Resolution>,
}

/// One point of a series with the energy it covers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnergyPoint {
    /// The point.
    #[serde(flatten)]
    pub point: SeriesPoint,
    /// Import energy over the point, Wh (register difference from the previous point;
    /// within the bucket for the first).
    pub import_wh: f64,
    /// Export energy over the point, Wh.
    pub export_wh: f64,
}

/// A meter's series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Series {
    /// The meter.
    pub meter: String,
    /// The resolution used.
    pub resolution: Resolution,
    /// Start asked for, Unix ms.
    pub from_ms: i64,
    /// End asked for, Unix ms.
    pub to_ms: i64,
    /// The points, oldest first.
    pub points: Vec<EnergyPoint>,
}

/// The resolution for a range when none is asked for.
pub fn resolution_for(span_ms: i64) -> Resolution {
    const HOUR_MS: i64 = 3_600_000;
    match span_ms {
        s if s <= 2 * HOUR_MS => Resolution::Raw,
        s if s <= 48 * HOUR_MS => Resolution::Minute,
        s if s <= 90 * 24 * HOUR_MS => Resolution::Hour,
        _ => Resolution::Day,
    }
}

/// The resolution an automatic choice falls back to when its own has no points: up to an
/// hour, which is kept as long as the store keeps anything.
fn coarser(resolution: Resolution) -> Option<Resolution> {
    match resolution {
        Resolution::Raw => Some(Resolution::Minute),
        Resolution::Minute => Some(Resolution::Hour),
        Resolution::Hour | Resolution::Day => None,
    }
}

async fn series_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
    query: &SeriesQuery,
) -> Result<Series, ApiError> {
    let meter = visible_meter(state, caller, id).await?;
    let (from_ms, to_ms) = RangeQuery {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
    }
    .range(state.shared.now_ms())?;
    let mut resolution = query
        .resolution
        .unwrap_or_else(|| resolution_for(to_ms - from_ms));
    let raw = loop {
        // Buckets that overlap the range: start from the bucket holding `from_ms`.
        let start = resolution
            .bucket_ms()
            .map_or(from_ms, |width| from_ms.div_euclid(width) * width);
        let raw = state
            .shared
            .store
            .series(&meter.id, resolution, start, to_ms)
            .await?;
        // Raw readings and their minute buckets go at retention while hours stay: a range
        // asked without a resolution falls back to the next coarser one that has points.
        match coarser(resolution) {
            Some(next) if raw.is_empty() && query.resolution.is_none() => resolution = next,
            _ => break raw,
        }
    };
    let mut points = Vec::with_capacity(raw.len());
    let mut previous: Option<SeriesPoint> = None;
    for point in raw {
        let (import_mwh, export_mwh) = match previous {
            Some(before) => (
                point.import_last_mwh.saturating_sub(before.import_last_mwh),
                point.export_last_mwh.saturating_sub(before.export_last_mwh),
            ),
            None => (
                point.import_last_mwh - point.import_first_mwh.min(point.import_last_mwh),
                point.export_last_mwh - point.export_first_mwh.min(point.export_last_mwh),
            ),
        };
        points.push(EnergyPoint {
            point,
            import_wh: import_mwh as f64 / 1000.0,
            export_wh: export_mwh as f64 / 1000.0,
        });
        previous = Some(point);
    }
    Ok(Series {
        meter: meter.id.to_string(),
        resolution,
        from_ms,
        to_ms,
        points,
    })
}

/// A meter's power, voltage and energy over a range, at a resolution.
#[utoipa::path(get, path = "/api/v1/meters/{id}/series", tag = "meters",
    params(("id" = String, Path, description = "Meter id"), SeriesQuery),
    responses((status = 200, body = Series), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn series(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<Json<Series>, ApiError> {
    Ok(Json(series_of(&state, &caller, &id, &query).await?))
}

/// The same series as CSV, for spreadsheets.
#[utoipa::path(get, path = "/api/v1/meters/{id}/export.csv", tag = "meters",
    params(("id" = String, Path, description = "Meter id"), SeriesQuery),
    responses((status = 200, content_type = "text/csv", body = String),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let series = series_of(&state, &caller, &id, &query).await?;
    let mut csv = String::from(
        "ts_ms,count,p_avg_w,p_min_w,p_max_w,v_avg_v,v_min_v,v_max_v,import_wh,export_wh,import_register_wh,export_register_wh\n",
    );
    for p in &series.points {
        let point = &p.point;
        csv.push_str(&format!(
            "{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}\n",
            point.ts_ms,
            point.count,
            point.p_avg_w,
            point.p_min_w,
            point.p_max_w,
            point.v_avg_v,
            point.v_min_v,
            point.v_max_v,
            p.import_wh,
            p.export_wh,
            point.import_last_mwh as f64 / 1000.0,
            point.export_last_mwh as f64 / 1000.0,
        ));
    }
    let filename = format!(
        "attachment; filename=\"{}-{}-{}.csv\"",
        series.meter, series.from_ms, series.to_ms
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, filename),
        ],
        csv,
    ))
}

/// A meter's interval records over a range.
#[utoipa::path(get, path = "/api/v1/meters/{id}/intervals", tag = "meters",
    params(("id" = String, Path, description = "Meter id"), RangeQuery),
    responses((status = 200, body = [Object], description = "Interval records (docs/PROTOCOL.md)"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn intervals(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<IntervalRecord>>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let (from_ms, to_ms) = query.range(state.shared.now_ms())?;
    Ok(Json(
        state
            .shared
            .store
            .intervals(&meter.id, from_ms, to_ms)
            .await?,
    ))
}

/// A meter's events over a range.
#[utoipa::path(get, path = "/api/v1/meters/{id}/events", tag = "meters",
    params(("id" = String, Path, description = "Meter id"), RangeQuery),
    responses((status = 200, body = [Object], description = "Events (docs/PROTOCOL.md)"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<Json<Vec<EventMessage>>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let (from_ms, to_ms) = query.range(state.shared.now_ms())?;
    Ok(Json(
        state.shared.store.events(&meter.id, from_ms, to_ms).await?,
    ))
}

/// A meter's sequence gaps: messages the hub has not received (yet).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Gaps {
    /// Every message up to this seq is stored.
    pub contiguous_seq: u64,
    /// The holes above it.
    pub gaps: Vec<Gap>,
}

/// A meter's sequence gaps.
#[utoipa::path(get, path = "/api/v1/meters/{id}/gaps", tag = "meters",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 200, body = Gaps), (status = 404, body = super::error::ErrorBody)))]
pub async fn gaps(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Gaps>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    let store = &state.shared.store;
    Ok(Json(Gaps {
        contiguous_seq: store.contiguous_seq(&meter.id).await?,
        gaps: store.gaps(&meter.id).await?,
    }))
}

/// A meter's live readings as server-sent events (`reading` events with the live reading
/// as JSON), starting with the latest stored one.
#[utoipa::path(get, path = "/api/v1/meters/{id}/live", tag = "meters",
    params(("id" = String, Path, description = "Meter id")),
    responses((status = 200, content_type = "text/event-stream", body = String),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn live(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let meter = visible_meter(&state, &caller, &id).await?;
    // Subscribe before reading the latest, so nothing falls between the two.
    let receiver = state.shared.live.subscribe();
    let first = state.shared.store.latest_reading(&meter.id).await?;
    let wanted = meter.id.clone();
    let updates = super::broadcast_stream(receiver).filter_map(move |(meter, reading)| {
        let keep = (meter == wanted).then_some(reading);
        async move { keep }
    });
    let stream = futures_util::stream::iter(first)
        .chain(updates)
        .map(|reading| {
            Ok(Event::default()
                .event("reading")
                .json_data(&reading)
                .unwrap_or_else(|_| Event::default().comment("unencodable reading")))
        })
        .take_until(super::stopped(&state));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
