//! JSON errors with a stable code, and extractors whose refusals are such errors too.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use joule_store::StoreError;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `unauthorized`, `forbidden`, `not_found`, `bad_request`,
    /// `conflict`, `csrf`, `bad_credentials`, `internal`; billing adds `invalid_tariff`,
    /// `retroactive_tariff_change`, `tariff_in_use`, `period_closed`, `no_tariff`,
    /// `invalid_prices`, `pricing_failed`.
    pub code: &'static str,
    /// Readable explanation.
    pub message: String,
}

/// An error answer: a status and a body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                code,
                message: message.into(),
            },
        }
    }

    /// 401: who are you?
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "log in, or send `Authorization: Bearer <API token>`",
        )
    }

    /// 401 at login.
    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "unknown user or wrong password",
        )
    }

    /// 403: known, but not allowed.
    pub fn forbidden(needs: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this needs the {needs} role"),
        )
    }

    /// 403: a state-changing request without the session's CSRF token.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong X-CSRF-Token header (it is returned by login and /auth/me)",
        )
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 500, logged; the client learns nothing internal.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the hub failed; see its log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::MeterExists(_) | StoreError::UserExists(_) => {
                Self::conflict(error.to_string())
            }
            StoreError::NoMeter(_)
            | StoreError::NoUser(_)
            | StoreError::NoCommand(_)
            | StoreError::NoDocument(..)
            | StoreError::NoTariff(_) => Self::not_found(error.to_string()),
            StoreError::InvalidTariff(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_tariff", error.to_string())
            }
            StoreError::Retroactive(_) => Self::new(
                StatusCode::CONFLICT,
                "retroactive_tariff_change",
                error.to_string(),
            ),
            StoreError::TariffInUse(..) => {
                Self::new(StatusCode::CONFLICT, "tariff_in_use", error.to_string())
            }
            StoreError::Database(_)
            | StoreError::Corrupt { .. }
            | StoreError::NewerSchema { .. } => Self::internal(error),
        }
    }
}

impl From<joule_tariff::PlanError> for ApiError {
    fn from(error: joule_tariff::PlanError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_tariff", error.to_string())
    }
}

impl From<crate::billing::BillingError> for ApiError {
    fn from(error: crate::billing::BillingError) -> Self {
        use crate::billing::BillingError;
        let message = error.to_string();
        match error {
            BillingError::Store(error) => error.into(),
            BillingError::BadPeriod(_) | BillingError::TooManyBuckets { .. } => {
                Self::bad_request(message)
            }
            BillingError::Closed(_) => Self::new(StatusCode::CONFLICT, "period_closed", message),
            BillingError::NoTariff(_) | BillingError::MissingPlan(_) => {
                Self::new(StatusCode::CONFLICT, "no_tariff", message)
            }
            BillingError::Prices(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_prices", message)
            }
            BillingError::Pricing(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "pricing_failed", message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// JSON body whose refusal is an [`ApiError`].
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// Query string whose refusal is an [`ApiError`].
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// Path parameters whose refusal is an [`ApiError`].
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}
