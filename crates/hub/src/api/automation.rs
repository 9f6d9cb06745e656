//! Automation rules (personal, like alert rules), their runs and dry runs, and the
//! demand-response events operators announce. Actions that reach devices (an MQTT message,
//! a meter command) need the operator role; anyone may call a webhook. Triggers and
//! commands may name only meters the caller may see.

use super::AppState;
use super::LimitQuery;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::meters::visible_meter;
use crate::automation::{
    AutomationAction, AutomationRule, AutomationSpec, DrEvent, DrEventSpec, Trigger, runner,
};
use crate::rulebook;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use joule_store::{AutomationRun, DocumentKind, Role};

/// The caller's automation rule `rule_id` (another's or a missing one is 404).
async fn own_rule(
    state: &AppState,
    caller: &Caller,
    rule_id: u64,
) -> Result<AutomationRule, ApiError> {
    rulebook::automations(state.shared.store.as_ref(), Some(&caller.user.username))
        .await?
        .into_iter()
        .find(|rule| rule.id == rule_id)
        .ok_or_else(|| ApiError::not_found(format!("no automation rule {rule_id}")))
}

/// Refuses invalid specs, actions beyond the caller's role and meters they may not see.
async fn check_spec(
    state: &AppState,
    caller: &Caller,
    spec: &AutomationSpec,
) -> Result<(), ApiError> {
    spec.validate(&state.shared.config.topics.prefix)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    match &spec.trigger {
        Trigger::Consumption { meter, .. } | Trigger::Price { meter, .. } => {
            visible_meter(state, caller, meter).await?;
        }
        Trigger::DemandResponse {
            meter: Some(meter), ..
        } => {
            visible_meter(state, caller, meter).await?;
        }
        Trigger::DemandResponse { meter: None, .. } | Trigger::Schedule { .. } => {}
    }
    for action in &spec.actions {
        match action {
            AutomationAction::MqttPublish { .. } => caller.require(Role::Operator)?,
            AutomationAction::MeterCommand { meter, action } => {
                caller.require(Role::Operator)?;
                super::commands::check(action)?;
                visible_meter(state, caller, meter).await?;
            }
            AutomationAction::Webhook { .. } => {}
        }
    }
    Ok(())
}

/// The caller's automation rules.
#[utoipa::path(get, path = "/api/v1/automations", tag = "automation",
    responses((status = 200, body = [AutomationRule]), (status = 401, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AutomationRule>>, ApiError> {
    let rules =
        rulebook::automations(state.shared.store.as_ref(), Some(&caller.user.username)).await?;
    Ok(Json(rules))
}

/// Creates an automation rule.
#[utoipa::path(post, path = "/api/v1/automations", tag = "automation",
    request_body = AutomationSpec,
    responses((status = 201, body = AutomationRule), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<AutomationSpec>,
) -> Result<impl IntoResponse, ApiError> {
    check_spec(&state, &caller, &spec).await?;
    let store = state.shared.store.as_ref();
    let rule = rulebook::put_automation(
        store,
        None,
        &caller.user.username,
        &spec,
        state.shared.now_ms(),
    )
    .await?;
    store
        .audit(caller.audit("automation.create", &rule.id.to_string(), &spec.name))
        .await?;
    state.shared.rules_changed();
    Ok((StatusCode::CREATED, Json(rule)))
}

/// One of the caller's automation rules.
#[utoipa::path(get, path = "/api/v1/automations/{rule_id}", tag = "automation",
    params(("rule_id" = u64, Path, description = "Rule id")),
    responses((status = 200, body = AutomationRule), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
) -> Result<Json<AutomationRule>, ApiError> {
    own_rule(&state, &caller, rule_id).await.map(Json)
}

/// Replaces one of the caller's automation rules.
#[utoipa::path(put, path = "/api/v1/automations/{rule_id}", tag = "automation",
    params(("rule_id" = u64, Path, description = "Rule id")), request_body = AutomationSpec,
    responses((status = 200, body = AutomationRule), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
    ApiJson(spec): ApiJson<AutomationSpec>,
) -> Result<Json<AutomationRule>, ApiError> {
    own_rule(&state, &caller, rule_id).await?;
    check_spec(&state, &caller, &spec).await?;
    let store = state.shared.store.as_ref();
    let rule = rulebook::put_automation(
        store,
        Some(rule_id),
        &caller.user.username,
        &spec,
        state.shared.now_ms(),
    )
    .await?;
    store
        .audit(caller.audit("automation.replace", &rule_id.to_string(), &spec.name))
        .await?;
    state.shared.rules_changed();
    Ok(Json(rule))
}

/// Deletes one of the caller's automation rules (its runs stay).
#[utoipa::path(delete, path = "/api/v1/automations/{rule_id}", tag = "automation",
    params(("rule_id" = u64, Path, description = "Rule id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    let rule = own_rule(&state, &caller, rule_id).await?;
    let store = &state.shared.store;
    store
        .delete_document(DocumentKind::Automation, rule_id)
        .await?;
    store
        .audit(caller.audit("automation.delete", &rule_id.to_string(), &rule.spec.name))
        .await?;
    state.shared.rules_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Runs one of the caller's rules as a dry run now: records what it would do, does
/// nothing.
#[utoipa::path(post, path = "/api/v1/automations/{rule_id}/dry-run", tag = "automation",
    params(("rule_id" = u64, Path, description = "Rule id")),
    responses((status = 200, body = AutomationRun), (status = 404, body = super::error::ErrorBody)))]
pub async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
) -> Result<Json<AutomationRun>, ApiError> {
    let rule = own_rule(&state, &caller, rule_id).await?;
    let reason = format!("dry run asked by {}", caller.user.username);
    Ok(Json(
        runner::run(&state.shared, &rule, &reason, true).await?,
    ))
}

/// The runs of one of the caller's rules, newest first.
#[utoipa::path(get, path = "/api/v1/automations/{rule_id}/runs", tag = "automation",
    params(("rule_id" = u64, Path, description = "Rule id"), LimitQuery),
    responses((status = 200, body = [AutomationRun]), (status = 404, body = super::error::ErrorBody)))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(rule_id): ApiPath<u64>,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<AutomationRun>>, ApiError> {
    own_rule(&state, &caller, rule_id).await?;
    let runs = state
        .shared
        .store
        .automation_runs(Some(rule_id), query.limit_or(50))
        .await?;
    Ok(Json(runs))
}

/// Demand-response events (operator).
#[utoipa::path(get, path = "/api/v1/dr-events", tag = "automation",
    responses((status = 200, body = [DrEvent]), (status = 403, body = super::error::ErrorBody)))]
pub async fn dr_events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DrEvent>>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        rulebook::dr_events(state.shared.store.as_ref()).await?,
    ))
}

/// Announces a demand-response event on a feeder or meters (operator); rules with a
/// demand-response trigger fire at its start and end.
#[utoipa::path(post, path = "/api/v1/dr-events", tag = "automation", request_body = DrEventSpec,
    responses((status = 201, body = DrEvent), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn add_dr_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<DrEventSpec>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Operator)?;
    spec.validate()
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let store = state.shared.store.as_ref();
    let event =
        rulebook::add_dr_event(store, &caller.user.username, &spec, state.shared.now_ms()).await?;
    let detail = serde_json::to_string(&spec).unwrap_or_default();
    store
        .audit(caller.audit("dr_event.add", &event.id.to_string(), detail))
        .await?;
    state.shared.rules_changed();
    Ok((StatusCode::CREATED, Json(event)))
}

/// Cancels a demand-response event (operator).
#[utoipa::path(delete, path = "/api/v1/dr-events/{event_id}", tag = "automation",
    params(("event_id" = u64, Path, description = "Event id")),
    responses((status = 204), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn cancel_dr_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(event_id): ApiPath<u64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Operator)?;
    let store = &state.shared.store;
    if !store
        .delete_document(DocumentKind::DrEvent, event_id)
        .await?
    {
        return Err(ApiError::not_found(format!("no DR event {event_id}")));
    }
    store
        .audit(caller.audit("dr_event.cancel", &event_id.to_string(), ""))
        .await?;
    state.shared.rules_changed();
    Ok(StatusCode::NO_CONTENT)
}
