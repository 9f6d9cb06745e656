//! Administration: users, the audit log, and the dead letters of ingest.

use super::AppState;
use super::LimitQuery;
use super::auth::{Caller, set_password};
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use joule_store::passwords;
use joule_store::{AuditEntry, DeadLetter, Role, UserRecord};
use serde::{Deserialize, Serialize};

/// A user as listed (never the hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Created, Unix ms.
    pub created_ms: i64,
}

impl From<UserRecord> for UserView {
    fn from(user: UserRecord) -> Self {
        Self {
            username: user.username,
            role: user.role,
            created_ms: user.created_ms,
        }
    }
}

/// Every user (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses((status = 200, body = [UserView]), (status = 403, body = super::error::ErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserView>>, ApiError> {
    caller.require(Role::Admin)?;
    let users = state.shared.store.users().await?;
    Ok(Json(users.into_iter().map(UserView::from).collect()))
}

/// A user to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UserRequest {
    /// Login name: 1 to 64 letters, digits, `-`, `_`, `.`, `@`.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Password (at least 10 characters).
    pub password: String,
}

/// Adds a user (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = UserRequest,
    responses((status = 201, body = UserView), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<UserRequest>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(Role::Admin)?;
    let valid = !request.username.is_empty()
        && request.username.len() <= 64
        && request
            .username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if !valid {
        return Err(ApiError::bad_request(
            "username: 1 to 64 letters, digits, '-', '_', '.', '@'",
        ));
    }
    let password = request.password;
    let password_hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let user = UserRecord {
        username: request.username,
        role: request.role,
        password_hash,
        created_ms: state.shared.now_ms(),
    };
    let store = &state.shared.store;
    store.add_user(user.clone()).await?;
    store
        .audit(caller.audit("user.add", &user.username, user.role.as_str()))
        .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(user))))
}

/// A password set by an admin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordRequest {
    /// The new password (at least 10 characters).
    pub password: String,
}

/// Sets a user's password, ending their sessions (admin).
#[utoipa::path(put, path = "/api/v1/users/{username}/password", tag = "admin",
    params(("username" = String, Path, description = "Login name")), request_body = PasswordRequest,
    responses((status = 204), (status = 400, body = super::error::ErrorBody),
        (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn user_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(username): ApiPath<String>,
    ApiJson(request): ApiJson<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    set_password(&state, &caller, &username, &request.password).await
}

/// The audit log, newest first (admin).
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(LimitQuery),
    responses((status = 200, body = [AuditEntry]), (status = 403, body = super::error::ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(
        state.shared.store.audit_log(query.limit_or(100)).await?,
    ))
}

/// Messages ingest refused, newest first (operator).
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "admin", params(LimitQuery),
    responses((status = 200, body = [DeadLetter]), (status = 403, body = super::error::ErrorBody)))]
pub async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    caller.require(Role::Operator)?;
    Ok(Json(
        state.shared.store.dead_letters(query.limit_or(100)).await?,
    ))
}
