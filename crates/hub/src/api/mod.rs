//! The HTTP API under `/api/v1` (axum), its OpenAPI document generated from the handlers
//! (utoipa), Prometheus metrics at `/metrics` and `/healthz`.
//!
//! Every route is registered through `utoipa_axum::routes!`, so the OpenAPI document is
//! the route list: the authorization test walks it, and a new route cannot escape.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod automation;
pub mod bills;
pub mod commands;
pub mod error;
pub mod fleet;
pub mod meters;
pub mod tariffs;

use crate::context::Shared;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use futures_util::Stream;
use joule_protocol::{LiveReading, MeterId};
use joule_store::MeterFilter;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};
use tokio::sync::{broadcast, watch};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};

/// What every handler gets.
pub type AppState = Arc<Api>;

/// The API's state.
#[derive(Debug)]
pub struct Api {
    /// What the hub's parts share.
    pub shared: Shared,
    /// Latest power of every meter (for the fleet view).
    pub latest: fleet::LatestPower,
    /// Turns true when the hub stops (ends live streams).
    pub stop: watch::Receiver<bool>,
    openapi: OnceLock<String>,
}

/// How many entries of a newest-first list to return.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// At most this many, newest first (at most 1000; the default depends on the list).
    pub limit: Option<usize>,
}

impl LimitQuery {
    /// The limit asked for, or `default`, within 1..=1000.
    pub fn limit_or(&self, default: usize) -> usize {
        self.limit.unwrap_or(default).clamp(1, 1000)
    }
}

/// Resolves when the hub stops.
fn stopped(state: &AppState) -> impl std::future::Future<Output = ()> + Send + use<> {
    let mut stop = state.stop.clone();
    async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    }
}

/// Stored live readings as a stream (a slow reader skips what it missed).
fn broadcast_stream(
    receiver: broadcast::Receiver<(MeterId, LiveReading)>,
) -> impl Stream<Item = (MeterId, LiveReading)> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(update) => return Some((update, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Joule hub API",
        description = "Meters, readings, commands, users, the fleet, alerts and automation. Errors are JSON \
            `{code, message}`. Browsers log in for a session cookie and send `X-CSRF-Token` \
            on state-changing requests; scripts send `Authorization: Bearer <API token>`."
    ),
    modifiers(&SecuritySchemes),
    security(("session" = []), ("bearer" = []))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", security(),
    responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder).
fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be sparse");
        }
        handle
    })
}

/// Prometheus metrics: ingest counts and rejects by reason, queue depth, store batch
/// latency, meters online.
#[utoipa::path(get, path = "/metrics", tag = "ops", security(),
    responses((status = 200, content_type = "text/plain", body = String)))]
async fn prometheus(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(meters) = state.shared.store.meters(&MeterFilter::default()).await {
        let online = meters.iter().filter(|m| m.online == Some(true)).count();
        metrics::gauge!(crate::telemetry::names::METERS_ONLINE).set(online as f64);
        metrics::gauge!(crate::telemetry::names::METERS_REGISTERED).set(meters.len() as f64);
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "ops", security(),
    responses((status = 200, content_type = "application/json", body = Object)))]
async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        state.openapi.get().cloned().unwrap_or_default(),
    )
}

/// Unknown paths: a JSON 404.
async fn fallback() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

/// The router and its OpenAPI document.
pub fn router(state: AppState) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(prometheus))
        .routes(routes!(openapi))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::create_token))
        .routes(routes!(auth::change_password))
        .routes(routes!(meters::list, meters::create))
        .routes(routes!(meters::detail))
        .routes(routes!(meters::revoke))
        .routes(routes!(meters::set_owner))
        .routes(routes!(meters::latest))
        .routes(routes!(meters::series))
        .routes(routes!(meters::export_csv))
        .routes(routes!(meters::intervals))
        .routes(routes!(meters::events))
        .routes(routes!(meters::gaps))
        .routes(routes!(meters::live))
        .routes(routes!(commands::create, commands::list))
        .routes(routes!(commands::get))
        .routes(routes!(fleet::fleet))
        .routes(routes!(fleet::fleet_live))
        .routes(routes!(fleet::events))
        .routes(routes!(admin::users, admin::add_user))
        .routes(routes!(admin::user_password))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::dead_letters))
        .routes(routes!(alerts::list_rules, alerts::create_rule))
        .routes(routes!(
            alerts::get_rule,
            alerts::replace_rule,
            alerts::delete_rule
        ))
        .routes(routes!(alerts::get_settings, alerts::put_settings))
        .routes(routes!(alerts::list_alerts))
        .routes(routes!(alerts::ack))
        .routes(routes!(alerts::resolve))
        .routes(routes!(alerts::deliveries))
        .routes(routes!(automation::list, automation::create))
        .routes(routes!(
            automation::get,
            automation::replace,
            automation::delete
        ))
        .routes(routes!(automation::dry_run))
        .routes(routes!(automation::runs))
        .routes(routes!(automation::dr_events, automation::add_dr_event))
        .routes(routes!(automation::cancel_dr_event))
        .routes(routes!(tariffs::list, tariffs::create))
        .routes(routes!(tariffs::get, tariffs::replace, tariffs::delete))
        .routes(routes!(tariffs::import_prices, tariffs::prices))
        .routes(routes!(tariffs::start_run, tariffs::runs))
        .routes(routes!(tariffs::run))
        .routes(routes!(tariffs::run_bills))
        .routes(routes!(bills::list))
        .routes(routes!(bills::document))
        .routes(routes!(bills::html))
        .routes(routes!(bills::cost))
        .routes(routes!(bills::cost_series))
        .routes(routes!(bills::insights))
        .split_for_parts();
    let json = document.to_pretty_json().unwrap_or_default();
    let _ = state.openapi.set(json);
    (router.fallback(fallback).with_state(state), document)
}

/// The API's state for `shared`, stopping its streams when `stop` turns true.
pub fn state(shared: Shared, stop: watch::Receiver<bool>) -> AppState {
    Arc::new(Api {
        shared,
        latest: fleet::LatestPower::default(),
        stop,
        openapi: OnceLock::new(),
    })
}

/// Serves the API and the web portal (`crate::web`) on `listener` until `stop` turns true.
pub async fn serve<L>(
    listener: L,
    shared: Shared,
    stop: watch::Receiver<bool>,
) -> Result<(), String>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    metrics_handle();
    let state = state(shared, stop.clone());
    // Keep the fleet view's latest power current.
    let mut updates = state.shared.live.subscribe();
    let feeder = Arc::clone(&state);
    let follower = tokio::spawn(async move {
        loop {
            match updates.recv().await {
                Ok((meter, reading)) => feeder.latest.update(meter, &reading),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let (api, _) = router(Arc::clone(&state));
    let app = api.merge(crate::web::router());
    let mut stop = stop;
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await
        .map_err(|error| error.to_string());
    follower.abort();
    result
}
