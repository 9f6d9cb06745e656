//! Commands to meters: created by operators (audited), tracked through their lifecycle
//! (pending, sent, accepted, done, rejected, failed, timed out). Remote disconnect and
//! reconnect follow DLMS disconnect control: disconnect opens the switch, reconnect closes
//! it, arm_reconnect leaves it ready for the consumer to close; each needs a reason.

use super::AppState;
use super::LimitQuery;
use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::meters::visible_meter;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use joule_protocol::Action;
use joule_store::{CommandRecord, Role};
use serde::Deserialize;

/// A command to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CommandRequest {
    /// What to do: the wire `action` (docs/PROTOCOL.md), e.g.
    /// `{"type": "disconnect", "reason": "non-payment"}`.
    #[schema(value_type = Object)]
    pub action: Action,
    /// How long the meter may still carry it out, s (default `[commands] expiry_s`).
    pub expires_in_s: Option<u32>,
}

/// Refuses actions that cannot be right whatever the meter's state.
pub(crate) fn check(action: &Action) -> Result<(), ApiError> {
    match action {
        Action::Disconnect { reason }
        | Action::Reconnect { reason }
        | Action::ArmReconnect { reason }
            if reason.trim().is_empty() =>
        {
            Err(ApiError::bad_request("switching the supply needs a reason"))
        }
        Action::LoadLimit {
            limit_w: Some(limit),
            ..
        } if !(limit.is_finite() && *limit > 0.0) => {
            Err(ApiError::bad_request("limit_w must be a positive number"))
        }
        _ => Ok(()),
    }
}

/// Sends a command to a meter (operator).
#[utoipa::path(post, path = "/api/v1/meters/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "Meter id")), request_body = CommandRequest,
    responses((status = 202, body = CommandRecord), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<CommandRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Operator)?;
    let meter = visible_meter(&state, &caller, &id).await?;
    if meter.revoked {
        return Err(ApiError::conflict(format!("meter `{id}` is revoked")));
    }
    check(&request.action)?;
    let expires_s = request
        .expires_in_s
        .unwrap_or(state.shared.config.commands.expiry_s)
        .clamp(10, 7 * 86_400);
    let command = crate::control::issue(
        &state.shared,
        &meter.id,
        &request.action,
        &caller.user.username,
        None,
        expires_s,
    )
    .await
    .map_err(|error| match error {
        crate::control::ControlError::Store(error) => ApiError::from(error),
        stopped => ApiError::internal(stopped),
    })?;
    Ok((StatusCode::ACCEPTED, Json(command)))
}

/// A meter's commands, newest first (operator).
#[utoipa::path(get, path = "/api/v1/meters/{id}/commands", tag = "commands",
    params(("id" = String, Path, description = "Meter id"), LimitQuery),
    responses((status = 200, body = [CommandRecord]), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<CommandRecord>>, ApiError> {
    caller.require(Role::Operator)?;
    let meter = visible_meter(&state, &caller, &id).await?;
    Ok(Json(
        state
            .shared
            .store
            .commands(Some(&meter.id), None, query.limit_or(50))
            .await?,
    ))
}

/// One command (operator).
#[utoipa::path(get, path = "/api/v1/commands/{command_id}", tag = "commands",
    params(("command_id" = u64, Path, description = "Command id")),
    responses((status = 200, body = CommandRecord), (status = 403, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(command_id): ApiPath<u64>,
) -> Result<Json<CommandRecord>, ApiError> {
    caller.require(Role::Operator)?;
    state
        .shared
        .store
        .command(command_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no command {command_id}")))
}
