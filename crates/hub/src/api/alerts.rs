//! Alerts: each user's rules, notification settings and alerts. Rules and alerts are
//! personal: a user sees and changes only their own (another's answers 404). A consumer's
//! rules watch their own meters; an operator's may watch the fleet.

use super::AppState;
use super::LimitQuery;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::meters::visible_meter;
use crate::alerts::{
    Alert, AlertRule, AlertRuleSpec, AlertState, DeliveryAttempt, NotificationSettings,
};
use crate::context::WatchInput;
use crate::rulebook;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use joule_store::{AlertFilter, AlertKey, DocumentKind};
use serde::Deserialize;

/// The caller's rule `rule_id` (another's or a missing one is 404).
async fn own_rule(state: &AppState, caller: &Caller, rule_id: u64) -> Result<AlertRule, ApiError> {
    rulebook::alert_rules(state.shared.store.as_ref(), Some(&caller.user.username))
        .await?
        .into_iter()
        .find(|rule| rule.id == rule_id)
        .ok_or_else(|| ApiError::not_found(format!("no alert rule {rule_id}")))
}

/// Refuses specs that are invalid or name meters the caller may not see.
async fn check_spec(
    state: &AppState,
    caller: &Caller,
    spec: &AlertRuleSpec,
) -> Result<(), ApiError> {
    spec.validate()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    for meter in &spec.meters {
        visible_meter(state, caller, meter).await?;
    }
    Ok(())
}

/// The caller's alert rules.
#[utoipa::path(get, path = "/api/v1/alert-rules", tag = "alerts",
    responses((status = 200, body = [AlertRule]), (status = 401, body = super::error::ErrorBody)))]
pub async fn list_rules(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AlertRule>>, ApiError> {
    let rules =
        rulebook::alert_rules(state.shared.store.as_ref(), Some(&caller.user.username)).await?;
    Ok(Json(rules))
}

/// Creates an alert rule.
#[utoipa::path(post, path = "/api/v1/alert-rules", tag = "alerts", request_body = AlertRuleSpec,
    responses((status = 201, body = AlertRule), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn create_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<AlertRuleSpec>,
) -> Result<impl IntoResponse, ApiError> {
    check_spec(&state, &caller, &spec).await?;
    let rule = rulebook::put_alert_rule(
        state.shared.store.as_ref(),
        None,
        &caller.user.username,
        &spec,
        state.shared.now_ms(),
    )
    .await?;
    state.shared.rules_changed();
    Ok((StatusCode::CREATED, Json(rule)))
}

/// One of the caller's alert rules.
#[utoipa::path(get, path = "/api/v1/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = u64, Path, description = "Rule id")),
    responses((status = 200, body = AlertRule), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
) -> Result<Json<AlertRule>, ApiError> {
    own_rule(&state, &caller, rule_id).await.map(Json)
}

/// Replaces one of the caller's alert rules (its alerts so far stay).
#[utoipa::path(put, path = "/api/v1/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = u64, Path, description = "Rule id")), request_body = AlertRuleSpec,
    responses((status = 200, body = AlertRule), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn replace_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
    ApiJson(spec): ApiJson<AlertRuleSpec>,
) -> Result<Json<AlertRule>, ApiError> {
    own_rule(&state, &caller, rule_id).await?;
    check_spec(&state, &caller, &spec).await?;
    let rule = rulebook::put_alert_rule(
        state.shared.store.as_ref(),
        Some(rule_id),
        &caller.user.username,
        &spec,
        state.shared.now_ms(),
    )
    .await?;
    state.shared.rules_changed();
    Ok(Json(rule))
}

/// Deletes one of the caller's alert rules; its unresolved alerts are resolved.
#[utoipa::path(delete, path = "/api/v1/alert-rules/{rule_id}", tag = "alerts",
    params(("rule_id" = u64, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    own_rule(&state, &caller, rule_id).await?;
    let store = &state.shared.store;
    store
        .delete_document(DocumentKind::AlertRule, rule_id)
        .await?;
    let key = AlertKey {
        rule_id,
        meter: None,
        condition: None,
    };
    store
        .resolve_alerts(&key, "rule deleted", state.shared.now_ms())
        .await?;
    state.shared.rules_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's notification settings.
#[utoipa::path(get, path = "/api/v1/notification-settings", tag = "alerts",
    responses((status = 200, body = NotificationSettings), (status = 401, body = super::error::ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NotificationSettings>, ApiError> {
    let (_, settings) =
        rulebook::settings(state.shared.store.as_ref(), &caller.user.username).await?;
    Ok(Json(settings))
}

/// Replaces the caller's notification settings.
#[utoipa::path(put, path = "/api/v1/notification-settings", tag = "alerts",
    request_body = NotificationSettings,
    responses((status = 200, body = NotificationSettings), (status = 400, body = super::error::ErrorBody)))]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(settings): ApiJson<NotificationSettings>,
) -> Result<Json<NotificationSettings>, ApiError> {
    settings
        .validate()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    rulebook::put_settings(
        state.shared.store.as_ref(),
        &caller.user.username,
        &settings,
        state.shared.now_ms(),
    )
    .await?;
    state.shared.rules_changed();
    Ok(Json(settings))
}

/// Which alerts to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only alerts in this state.
    pub state: Option<AlertState>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// The caller's alerts, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertsQuery),
    responses((status = 200, body = [Alert]), (status = 401, body = super::error::ErrorBody)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = LimitQuery { limit: query.limit }.limit_or(100);
    let filter = AlertFilter {
        owner: Some(caller.user.username.clone()),
        state: query.state,
        id: None,
        limit,
    };
    Ok(Json(state.shared.store.alerts(&filter).await?))
}

/// The caller's alert `alert_id`.
async fn own_alert(state: &AppState, caller: &Caller, alert_id: u64) -> Result<Alert, ApiError> {
    let filter = AlertFilter {
        owner: Some(caller.user.username.clone()),
        id: Some(alert_id),
        limit: 1,
        ..AlertFilter::default()
    };
    state
        .shared
        .store
        .alerts(&filter)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("no alert {alert_id}")))
}

/// Moves one of the caller's alerts to `to`.
async fn move_alert(
    state: &AppState,
    caller: &Caller,
    alert_id: u64,
    to: AlertState,
) -> Result<Json<Alert>, ApiError> {
    let alert = own_alert(state, caller, alert_id).await?;
    let moved = state
        .shared
        .store
        .set_alert_state(alert_id, to, &caller.user.username, state.shared.now_ms())
        .await?
        .ok_or_else(|| {
            ApiError::conflict(format!("alert {alert_id} is {}", alert.state.as_str()))
        })?;
    if to == AlertState::Resolved {
        let _ = state.shared.watch.try_send(WatchInput::Resolved {
            rule_id: moved.raised.rule_id,
            meter: moved.raised.meter.clone(),
            condition: moved.raised.condition.clone(),
        });
    }
    Ok(Json(moved))
}

/// Acknowledges one of the caller's open alerts.
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/ack", tag = "alerts",
    params(("alert_id" = u64, Path, description = "Alert id")),
    responses((status = 200, body = Alert), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(alert_id): ApiPath<u64>,
) -> Result<Json<Alert>, ApiError> {
    move_alert(&state, &caller, alert_id, AlertState::Acknowledged).await
}

/// Resolves one of the caller's alerts by hand (its condition may still hold; it raises a
/// new alert only after clearing and recurring).
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/resolve", tag = "alerts",
    params(("alert_id" = u64, Path, description = "Alert id")),
    responses((status = 200, body = Alert), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(alert_id): ApiPath<u64>,
) -> Result<Json<Alert>, ApiError> {
    move_alert(&state, &caller, alert_id, AlertState::Resolved).await
}

/// The delivery attempts of one of the caller's alerts.
#[utoipa::path(get, path = "/api/v1/alerts/{alert_id}/deliveries", tag = "alerts",
    params(("alert_id" = u64, Path, description = "Alert id")),
    responses((status = 200, body = [DeliveryAttempt]), (status = 404, body = super::error::ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(alert_id): ApiPath<u64>,
) -> Result<Json<Vec<DeliveryAttempt>>, ApiError> {
    own_alert(&state, &caller, alert_id).await?;
    Ok(Json(state.shared.store.deliveries(alert_id).await?))
}
