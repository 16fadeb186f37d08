//! The API's one error type and its JSON shape:
//! `{"error":{"code","message","fields"?,"request_id"}}`. Internal errors are logged in
//! full and reach the client as a fixed message; database text never leaves the server.

use crate::domain::conflict::conflict_message;
use crate::store::{StoreError, is_busy};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::domain::FieldErrors;

/// The variant's strum name is the error's `code` (`validation_failed`, `not_found`, ...).
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("the request is not valid")]
    #[strum(serialize = "validation_failed")]
    Validation(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// A body of a media type the endpoint does not take (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many failed attempts; try again later")]
    TooManyRequests { retry_after_s: u64 },
    #[error("the database does not answer")]
    Unavailable,
    /// Another writer holds the database longer than this request could wait.
    #[error("the database is busy; try again shortly")]
    Busy,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A 422 naming one field.
    pub fn field(name: &str, problem: impl Into<String>) -> ApiError {
        ApiError::Validation(crate::domain::field_error(name, problem))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken | ApiError::InvalidCredentials => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable | ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        self.into()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Conflict { constraint } => {
                ApiError::Conflict(conflict_message(&constraint).to_owned())
            }
            StoreError::Rejected(why) => ApiError::Conflict(why.to_owned()),
            StoreError::InUse => ApiError::Conflict("still in use by other records".to_owned()),
            StoreError::Busy(e) => {
                tracing::warn!(error = %e, "database busy");
                ApiError::Busy
            }
            StoreError::Database(e) => ApiError::Internal(e.into()),
        }
    }
}

/// A domain constructor's refusal: a 422 naming every field.
impl From<FieldErrors> for ApiError {
    fn from(problems: FieldErrors) -> Self {
        ApiError::Validation(problems)
    }
}

/// An error from outside the store layer is internal, unless a busy database is its
/// cause (a store or sqlx error carried through `anyhow`).
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        let busy = error.chain().any(|cause| {
            matches!(
                cause.downcast_ref::<StoreError>(),
                Some(StoreError::Busy(_))
            ) || cause.downcast_ref::<sqlx::Error>().is_some_and(is_busy)
        });
        if busy {
            tracing::warn!(error = format!("{error:#}"), "database busy");
            return ApiError::Busy;
        }
        ApiError::Internal(error)
    }
}

/// Seconds a client is told to wait before retrying when the database was busy.
const BUSY_RETRY_AFTER_S: u32 = 1;

/// The error payload; the `error_envelope` middleware adds the request id and writes it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `validation_failed`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// For `validation_failed`: field path → what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
    /// The `x-request-id` of the request, to find it in the server's logs.
    pub request_id: String,
}

/// What every error response carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(error) = &self {
            // Logged in full inside the request's span (which carries the request id).
            tracing::error!(error = format!("{error:#}"), "internal error");
        }
        let status = self.status();
        let body = ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
            fields: match &self {
                ApiError::Validation(fields) => Some(fields.clone()),
                _ => None,
            },
            request_id: String::new(),
        };
        let mut response = status.into_response();
        match &self {
            ApiError::Unauthenticated => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::InvalidToken => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::TooManyRequests { retry_after_s } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            ApiError::Busy => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_S));
            }
            _ => {}
        }
        response.extensions_mut().insert(body);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let cases = [
            (ApiError::Unauthenticated, "unauthenticated"),
            (ApiError::InvalidToken, "invalid_token"),
            (ApiError::InvalidCredentials, "invalid_credentials"),
            (ApiError::Forbidden, "forbidden"),
            (ApiError::NotFound("x"), "not_found"),
            (ApiError::Conflict("x".into()), "conflict"),
            (
                ApiError::Validation(FieldErrors::new()),
                "validation_failed",
            ),
            (ApiError::BadRequest("x".into()), "bad_request"),
            (ApiError::PayloadTooLarge, "payload_too_large"),
            (
                ApiError::UnsupportedMediaType("x".into()),
                "unsupported_media_type",
            ),
            (
                ApiError::TooManyRequests { retry_after_s: 1 },
                "too_many_requests",
            ),
            (ApiError::Unavailable, "unavailable"),
            (ApiError::Busy, "busy"),
            (ApiError::Internal(anyhow::anyhow!("x")), "internal"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }
}
