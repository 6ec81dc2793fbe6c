//! The JSON envelope every response uses, and the front's one error type.
//!
//! A 4xx says what was wrong (and, for validation failures, which fields); a 5xx carries a
//! generic message while its cause is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::json_body::json_response;
use crate::decode::DecodeError;
use crate::session::FieldErrors;
use crate::store::StoreError;

/// The response envelope: `status` always, then whichever of the rest apply.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    /// The HTTP status class in words: `success`, `bad request`, …
    pub status: String,
    /// The payload of a success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
    /// A human-readable explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Validation failures by form-notation field (at most the first 100 fields).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
    /// How many more failures were found than `errors` lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors_omitted: Option<usize>,
    /// The opaque cursor of the next page of a list, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `success` for any 2xx, otherwise the reason phrase in lower case (`payload too large`).
pub fn status_words(status: StatusCode) -> String {
    if status.is_success() {
        return "success".into();
    }
    status
        .canonical_reason()
        .map_or_else(|| "error".into(), str::to_lowercase)
}

/// A success response with `result` and an optional message.
pub fn success<T: Serialize>(status: StatusCode, result: T, message: Option<&str>) -> Response {
    let body = Envelope {
        status: status_words(status),
        result: Some(result),
        message: message.map(str::to_owned),
        errors: None,
        errors_omitted: None,
        next_cursor: None,
    };
    json_response(status, &body)
}

/// The `404` of a session that is not there (or not visible to this request).
pub fn session_not_found(uuid: &str) -> ApiError {
    ApiError::NotFound(format!("session {uuid} does not exist in this project"))
}

/// A `200` page of a list: `result` is the page, `next_cursor` names the next one (absent on
/// the last page).
pub fn page<T: Serialize>(items: Vec<T>, next_cursor: Option<String>) -> Response {
    let body = Envelope {
        status: status_words(StatusCode::OK),
        result: Some(items),
        message: None,
        errors: None,
        errors_omitted: None,
        next_cursor,
    };
    json_response(StatusCode::OK, &body)
}

/// Every way a request can fail, each with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400`: malformed or invalid input; `errors` names the fields.
    #[error("{message}")]
    BadRequest {
        /// What was wrong, in a sentence.
        message: String,
        /// The offending fields.
        errors: FieldErrors,
    },
    /// `403`: authentication or authorisation failed.
    #[error("{0}")]
    Forbidden(String),
    /// `404`: no such route, project or session.
    #[error("{0}")]
    NotFound(String),
    /// `405`: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// `408`: the client did not send the whole body in time.
    #[error("{0}")]
    Timeout(String),
    /// `413`: the body exceeds the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// `415`: an unsupported content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// `503`: the broker (or the auth data) is unavailable; the client should retry.
    #[error("{0}")]
    Unavailable(String),
    /// `500`: a bug or an unexpected failure; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A `400` naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut errors = FieldErrors::default();
        errors.add(field, message.clone());
        Self::BadRequest { message, errors }
    }

    /// A `400` for a failed validation.
    pub fn invalid(errors: FieldErrors) -> Self {
        Self::BadRequest {
            message: "the session is invalid".into(),
            errors,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::UnsupportedMediaType(message) => Self::UnsupportedMediaType(message),
            DecodeError::TooLarge(message) => Self::PayloadTooLarge(message),
            DecodeError::Malformed { field, message } => Self::field(field, message),
        }
    }
}

impl From<StoreError> for ApiError {
    /// A database that is down or overloaded is a `503` (retry); anything else is a bug.
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            tracing::warn!(%error, "database unavailable for a request");
            Self::Unavailable("the database is unavailable; retry".into())
        } else {
            Self::Internal(error.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, errors) = match self {
            Self::BadRequest { message, errors } => (message, Some(errors)),
            Self::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                ("internal server error".to_owned(), None)
            }
            other => (other.to_string(), None),
        };
        let errors_omitted = errors
            .as_ref()
            .map(FieldErrors::omitted)
            .filter(|omitted| *omitted > 0);
        let body = Envelope::<()> {
            status: status_words(status),
            result: None,
            message: Some(message),
            errors,
            errors_omitted,
            next_cursor: None,
        };
        let mut response = json_response(status, &body);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
