//! The fleet at a glance for operators: meters online, total load live, load per feeder
//! and transformer — from the latest reading of every meter, kept in memory as readings
//! are stored — and the newest events of every meter.

use super::auth::Caller;
use super::error::{ApiError, ApiQuery};
use super::{AppState, LimitQuery};
use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use joule_protocol::{EventMessage, LiveReading, MeterId, RelayState};
use joule_store::{MeterFilter, Role};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::RwLock;
use std::time::Duration;

/// A reading older than this no longer counts toward the live load.
const STALE_MS: i64 = 120_000;

/// The latest power and relay state of every meter that reported.
#[derive(Debug, Default)]
pub struct LatestPower {
    by_meter: RwLock<HashMap<MeterId, (i64, f64, RelayState)>>,
}

impl LatestPower {
    /// Takes in a stored reading (an older one than known is ignored).
    pub fn update(&self, meter: MeterId, reading: &LiveReading) {
        let mut map = self
            .by_meter
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry(meter).or_insert((i64::MIN, 0.0, reading.relay));
        if reading.ts_ms >= entry.0 {
            *entry = (reading.ts_ms, reading.p_w, reading.relay);
        }
    }

    fn snapshot(&self) -> HashMap<MeterId, (i64, f64, RelayState)> {
        self.by_meter
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Load of a group of meters.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct GroupLoad {
    /// Meters in the group.
    pub meters: u32,
    /// Meters with a reading in the last two minutes.
    pub reporting: u32,
    /// Net active power, W (+ import).
    pub p_w: f64,
}

/// The fleet summary.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetSummary {
    /// When it was computed, Unix ms.
    pub ts_ms: i64,
    /// Registered meters (not revoked).
    pub meters: u32,
    /// Meters whose last status was `online`.
    pub online: u32,
    /// Meters whose last status was `offline`.
    pub offline: u32,
    /// Meters with the supply switch open.
    pub disconnected: u32,
    /// Sum of imports, W.
    pub import_w: f64,
    /// Sum of exports, W (positive).
    pub export_w: f64,
    /// Per feeder.
    pub feeders: BTreeMap<String, GroupLoad>,
    /// Per transformer.
    pub transformers: BTreeMap<String, GroupLoad>,
}

async fn summary(state: &AppState) -> Result<FleetSummary, ApiError> {
    let meters = state.shared.store.meters(&MeterFilter::default()).await?;
    let latest = state.latest.snapshot();
    let now = state.shared.now_ms();
    let mut summary = FleetSummary {
        ts_ms: now,
        meters: 0,
        online: 0,
        offline: 0,
        disconnected: 0,
        import_w: 0.0,
        export_w: 0.0,
        feeders: BTreeMap::new(),
        transformers: BTreeMap::new(),
    };
    for meter in meters.iter().filter(|m| !m.revoked) {
        summary.meters += 1;
        match meter.online {
            Some(true) => summary.online += 1,
            Some(false) => summary.offline += 1,
            None => {}
        }
        let fresh = latest
            .get(&meter.id)
            .filter(|(ts_ms, _, _)| now - ts_ms <= STALE_MS);
        let p_w = fresh.map_or(0.0, |(_, p_w, _)| *p_w);
        if fresh.is_some_and(|(_, _, relay)| *relay != RelayState::Connected) {
            summary.disconnected += 1;
        }
        if p_w >= 0.0 {
            summary.import_w += p_w;
        } else {
            summary.export_w -= p_w;
        }
        let groups = [
            (&mut summary.feeders, &meter.details.feeder),
            (&mut summary.transformers, &meter.details.transformer),
        ];
        for (groups, key) in groups {
            let key = key.clone().unwrap_or_else(|| "(none)".to_owned());
            let group = groups.entry(key).or_default();
            group.meters += 1;
            group.reporting += u32::from(fresh.is_some());
            group.p_w += p_w;
        }
    }
    Ok(summary)
}

/// The fleet summary (operator).
#[utoipa::path(get, path = "/api/v1/fleet", tag = "fleet",
    responses((status = 200, body = FleetSummary), (status = 403, body = super::error::ErrorBody)))]
pub async fn fleet(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<FleetSummary>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(summary(&state).await?))
}

/// The fleet summary every second as server-sent events (`summary` events; operator).
#[utoipa::path(get, path = "/api/v1/fleet/live", tag = "fleet",
    responses((status = 200, content_type = "text/event-stream", body = String),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn fleet_live(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Role::Operator)?;
    let stop = super::stopped(&state);
    let ticks = futures_util::stream::unfold(
        tokio::time::interval(Duration::from_secs(1)),
        |mut interval| async move {
            interval.tick().await;
            Some(((), interval))
        },
    );
    let stream = ticks
        .then(move |()| {
            let state = state.clone();
            async move {
                let event = match summary(&state).await {
                    Ok(summary) => Event::default()
                        .event("summary")
                        .json_data(&summary)
                        .unwrap_or_else(|_| Event::default().comment("unencodable summary")),
                    Err(_) => Event::default().comment("summary unavailable"),
                };
                Ok(event)
            }
        })
        .take_until(stop);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// An event and the meter that raised it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FleetEvent {
    /// The meter.
    #[schema(value_type = String)]
    pub meter: MeterId,
    /// The event (docs/PROTOCOL.md).
    #[schema(value_type = Object)]
    pub event: EventMessage,
}

/// The newest events of every meter, newest first (operator).
#[utoipa::path(get, path = "/api/v1/events", tag = "fleet", params(LimitQuery),
    responses((status = 200, body = [FleetEvent]), (status = 403, body = super::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<FleetEvent>>, ApiError> {
    caller.require(Role::Operator)?;
    let events = state
        .shared
        .store
        .recent_events(query.limit_or(100))
        .await?;
    Ok(Json(
        events
            .into_iter()
            .map(|(meter, event)| FleetEvent { meter, event })
            .collect(),
    ))
}
