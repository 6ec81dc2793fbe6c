//! `POST /api/v1/projects/{project_id}/sessions`: decode, check, stamp, publish, answer.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use http_body_util::{BodyDataStream, BodyExt as _, Limited};

use super::accept::{publish, read_raw_session, stored_session, with_upload_id};
use super::error::{ApiError, success};
use super::params::Query;
use super::{AppState, parse_project_id};
use crate::broker::PublishError;
use crate::decode::{self, BodyKind, MultipartLimits};
use crate::ordering::Stamp;
use crate::ordering::Touched;
use crate::session::{RawSession, remember_file_digests};
use crate::view::SessionView;
use crate::wire::Upload;

/// Header naming the upload id of an accepted upload.
pub const UPLOAD_ID_HEADER: &str = "x-upload-id";

/// Accepts one session upload; `202` only once the broker confirmed the message. With
/// `?wait=stored`, `200` with the stored session once the consumer committed it (if it does
/// within `front.wait_stored_ms`; `202` otherwise).
pub async fn create_session(
    State(state): State<AppState>,
    Path(project): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let project_id = parse_project_id(&project)?;
    let now = chrono::Utc::now().timestamp();
    let principal = state.auth.authorize(&headers, project_id, now)?;
    let wait = Query::parse(query.as_deref()).wait_stored()?;
    let raw = read_raw_session(&state, &headers, body).await?;
    let stamp = Stamp::now(&principal);
    let mut session = raw
        .parse(&state.config.limits, stamp.received_seconds())
        .map_err(ApiError::invalid)?;
    remember_file_digests(&mut session.points);
    let view = SessionView::accepted(&session, &stamp);
    let (uuid, order) = (session.uuid.clone(), stamp.order());
    let upload = Upload::create(project_id, stamp, session);
    let upload_id = upload.stamp.upload_id;
    publish(&state, &upload).await?;
    tracing::debug!(upload.id = %upload_id, project.id = project_id, "upload accepted");
    metrics::histogram!("intake_accept_seconds").record(started.elapsed().as_secs_f64());
    let stored = if wait {
        stored_session(&state, project_id, uuid.as_str(), Touched::create(), order).await
    } else {
        None
    };
    let response = match stored {
        Some(stored) => success(StatusCode::OK, stored, Some("stored")),
        None => success(StatusCode::ACCEPTED, view, Some("accepted")),
    };
    Ok(with_upload_id(response, upload_id))
}

/// The `result` label of `intake_publish_total`.
pub(crate) fn publish_result(result: &Result<(), PublishError>) -> &'static str {
    match result {
        Ok(()) => "confirmed",
        Err(PublishError::Unavailable) => "unavailable",
        Err(PublishError::Timeout) => "timeout",
        Err(PublishError::Refused(_)) => "refused",
        Err(PublishError::Amqp(_)) => "error",
    }
}

/// Reads and decodes the body by its content type, never past the body limit.
pub(crate) async fn read_session(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<RawSession, ApiError> {
    let limit = state.config.front.body_limit_bytes;
    let too_large = || ApiError::PayloadTooLarge(format!("the body must be at most {limit} bytes"));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let kind = decode::body_kind(content_type)?;
    let limited = Limited::new(body, limit);
    let raw = match kind {
        BodyKind::Multipart { boundary } => {
            let limits = MultipartLimits::new(limit as u64, &state.config.limits);
            decode::multipart::decode(BodyDataStream::new(limited), boundary, &limits).await?
        }
        BodyKind::Json | BodyKind::Form => {
            let bytes = match limited.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                    return Err(too_large());
                }
                Err(error) => {
                    return Err(ApiError::field(
                        "body",
                        format!("could not read the body: {error}"),
                    ));
                }
            };
            if matches!(kind, BodyKind::Json) {
                decode::json::decode(&bytes)?
            } else {
                decode::form::decode(&bytes)?
            }
        }
    };
    Ok(raw)
}
