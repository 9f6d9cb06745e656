//! Who is asking: browser sessions (an HttpOnly cookie plus a CSRF token on every
//! state-changing request) and bearer API tokens for scripts; login, logout and tokens.

use super::AppState;
use super::error::{ApiError, ApiJson};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{AppendHeaders, IntoResponse};
use joule_store::passwords;
use joule_store::tokens;
use joule_store::{AuditEntry, MeterRecord, Role, SessionRecord, UserRecord};
use serde::{Deserialize, Serialize};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "joule_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A browser session (its token hash and CSRF token).
    Session {
        /// SHA-256 of the cookie's token.
        token_hash: String,
        /// The CSRF token of the session.
        csrf_token: String,
    },
    /// A bearer API token.
    ApiToken,
}

/// An authenticated caller. Extracting it refuses anonymous requests (401) and
/// state-changing session requests without the CSRF token (403).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: UserRecord,
    /// How they proved it.
    pub proof: Proof,
    /// When the request was authenticated, Unix ms (the hub's clock): what the caller's
    /// audit entries are stamped with.
    pub at_ms: i64,
}

impl Caller {
    /// Refuses (403) unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.user.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(role.as_str()))
        }
    }

    /// Whether the caller may see `meter`: operators and admins see the fleet, consumers
    /// their own meters.
    pub fn may_see(&self, meter: &MeterRecord) -> bool {
        self.user.role >= Role::Operator
            || meter.details.owner.as_deref() == Some(&self.user.username)
    }

    /// An audit entry by this caller.
    pub fn audit(&self, action: &str, target: &str, detail: impl Into<String>) -> AuditEntry {
        AuditEntry {
            ts_ms: self.at_ms,
            actor: self.user.username.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.into(),
        }
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let store = &state.shared.store;
        let at_ms = state.shared.now_ms();
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            let user = store
                .api_token_user(&tokens::hash(token.trim()))
                .await?
                .ok_or_else(ApiError::unauthorized)?;
            return Ok(Self {
                user,
                proof: Proof::ApiToken,
                at_ms,
            });
        }
        let token =
            cookie_value(&parts.headers, SESSION_COOKIE).ok_or_else(ApiError::unauthorized)?;
        let token_hash = tokens::hash(token);
        let (session, user) = store
            .session(&token_hash, at_ms)
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !tokens::constant_time_eq(sent, session.csrf_token.as_bytes()) {
                return Err(ApiError::csrf());
            }
        }
        Ok(Self {
            user,
            proof: Proof::Session {
                token_hash,
                csrf_token: session.csrf_token,
            },
            at_ms,
        })
    }
}

/// Login form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// The token to send as `X-CSRF-Token` on state-changing requests (sessions only).
    pub csrf_token: Option<String>,
}

/// A verifier hash for unknown users, so a wrong username costs as long as a wrong
/// password (no user enumeration by timing).
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| passwords::hash(&passwords::generate()).unwrap_or_default())
}

/// Logs in: sets the session cookie and returns the CSRF token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let store = &state.shared.store;
    let user = store.user(&request.username).await?;
    let hash = user.as_ref().map_or_else(
        || decoy_hash().to_owned(),
        |user| user.password_hash.clone(),
    );
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let Some(user) = user.filter(|_| matches) else {
        tracing::warn!(username = request.username.as_str(), "login refused");
        return Err(ApiError::bad_credentials());
    };
    let token = tokens::generate();
    let csrf_token = tokens::generate();
    let now = state.shared.now_ms();
    let hours = state.shared.config.http.session_hours;
    store
        .add_session(SessionRecord {
            token_hash: tokens::hash(&token),
            username: user.username.clone(),
            csrf_token: csrf_token.clone(),
            created_ms: now,
            expires_ms: now + i64::from(hours) * 3_600_000,
        })
        .await?;
    let secure = if state.shared.config.http.cookies_secure() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        u64::from(hours) * 3600
    );
    Ok((
        AppendHeaders([(SET_COOKIE, cookie)]),
        Json(Me {
            username: user.username,
            role: user.role,
            csrf_token: Some(csrf_token),
        }),
    ))
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = super::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    if let Proof::Session { token_hash, .. } = &caller.proof {
        state.shared.store.delete_session(token_hash).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        AppendHeaders([(SET_COOKIE, cookie)]),
    ))
}

/// Who the caller is (and their session's CSRF token).
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        username: caller.user.username,
        role: caller.user.role,
        csrf_token: match caller.proof {
            Proof::Session { csrf_token, .. } => Some(csrf_token),
            Proof::ApiToken => None,
        },
    })
}

/// A new API token's name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// What it is for (e.g. the script's name).
    pub name: String,
}

/// A new API token, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewToken {
    /// The token: send it as `Authorization: Bearer <token>`. Only its hash is kept.
    pub token: String,
}

/// Creates an API token for the caller.
#[utoipa::path(post, path = "/api/v1/auth/tokens", tag = "auth", request_body = TokenRequest,
    responses((status = 201, body = NewToken), (status = 401, body = super::error::ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<TokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let token = tokens::generate();
    let store = &state.shared.store;
    store
        .add_api_token(
            &caller.user.username,
            &tokens::hash(&token),
            &request.name,
            state.shared.now_ms(),
        )
        .await?;
    store
        .audit(caller.audit("token.create", &caller.user.username, request.name))
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(NewToken { token })))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The current password (not needed when an admin sets another user's).
    pub current: Option<String>,
    /// The new password (at least 10 characters).
    pub new: String,
}

/// Changes the caller's own password (ending their sessions).
#[utoipa::path(put, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    let current = change.current.unwrap_or_default();
    let stored = caller.user.password_hash.clone();
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&current, &stored))
        .await
        .map_err(ApiError::internal)?;
    if !matches {
        return Err(ApiError::bad_credentials());
    }
    set_password(&state, &caller, &caller.user.username, &change.new).await
}

/// Hashes and stores a new password for `username`, audited.
pub async fn set_password(
    state: &AppState,
    caller: &Caller,
    username: &str,
    password: &str,
) -> Result<axum::http::StatusCode, ApiError> {
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let store = &state.shared.store;
    store.set_password(username, &hash).await?;
    store
        .audit(caller.audit("user.passwd", username, ""))
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
