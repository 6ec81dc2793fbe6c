//! What every write route shares after its own decoding: the existence check, the confirmed
//! publish, and the answer — `202` once the broker confirmed, or with `?wait=stored` `200`
//! once the consumer committed it (if it does within `front.wait_stored_ms`).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::AppState;
use super::create::{UPLOAD_ID_HEADER, publish_result, read_session};
use super::error::{ApiError, success};
use super::read::session_not_found;
use crate::ordering::Order;
use crate::ordering::Touched;
use crate::session::{RawSession, SessionUuid};
use crate::store::read::load_session;
use crate::view::SessionView;
use crate::wire::Upload;

/// What a stored write answers with under `?wait=stored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStored {
    /// The session as stored now.
    Session,
    /// The same `result` as the `202`.
    SameResult,
}

/// The session as it is stored now, or `404` (deleted ones only with `include_deleted`).
/// Update routes check existence here: they are not the hot path.
pub async fn existing(
    state: &AppState,
    project_id: i64,
    uuid: &SessionUuid,
    include_deleted: bool,
) -> Result<SessionView, ApiError> {
    let key = uuid.as_str().to_owned();
    state
        .store
        .run(move |conn| load_session(conn, project_id, &key, include_deleted))
        .await?
        .ok_or_else(|| session_not_found(uuid.as_str()))
}

/// Reads a session body as the create route does, within the body read timeout.
pub async fn read_raw_session(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<RawSession, ApiError> {
    within_read_timeout(state, read_session(state, headers, body)).await
}

/// Runs a body read within `front.body_read_timeout_ms` (`408` after it).
pub async fn within_read_timeout<T>(
    state: &AppState,
    read: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let limit = Duration::from_millis(state.config.front.body_read_timeout_ms);
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| ApiError::Timeout(format!("the body was not received within {limit:?}")))?
}

/// Publishes any write and waits for the broker's confirm: the one place a write becomes
/// durable. Sheds load instead of queueing without bound: when `front.max_in_flight_publishes`
/// publishes already wait for confirms, or the broker applies flow control, the client gets
/// `503` with `Retry-After` at once.
pub async fn publish(state: &AppState, upload: &Upload) -> Result<(), ApiError> {
    let upload_id = upload.stamp.upload_id;
    let body = upload.encode();
    // Counted in KiB so that a semaphore's u32 permits cover any body the front accepts; an
    // upload larger than the whole budget takes all of it rather than never passing.
    let budget_kib = (state.config.front.max_in_flight_bytes / 1024).max(1);
    let kib = u32::try_from(body.len().div_ceil(1024).clamp(1, budget_kib)).unwrap_or(u32::MAX);
    let (Ok(_permit), Ok(_bytes)) = (
        state.publish_budget.try_acquire(),
        state.publish_bytes_budget.try_acquire_many(kib),
    ) else {
        metrics::counter!("intake_publish_total", "result" => "shed").increment(1);
        return Err(ApiError::Unavailable(
            "too many uploads are waiting for the broker; retry shortly".into(),
        ));
    };
    if state.publisher.is_blocked() {
        metrics::counter!("intake_publish_total", "result" => "shed").increment(1);
        return Err(ApiError::Unavailable(
            "the broker is applying flow control; retry shortly".into(),
        ));
    }
    let started = std::time::Instant::now();
    let published = state
        .publisher
        .publish_encoded(upload, body, state.config.front.publish_timeout())
        .await;
    metrics::counter!("intake_publish_total", "result" => publish_result(&published)).increment(1);
    published.map_err(|error| {
        tracing::warn!(upload.id = %upload_id, %error, "upload not confirmed by the broker");
        ApiError::Unavailable(format!("the upload was not stored ({error}); retry"))
    })?;
    metrics::histogram!("intake_publish_confirm_seconds").record(started.elapsed().as_secs_f64());
    Ok(())
}

/// Publishes the write and answers it: `202` with `accepted` as `result`, or with `wait`
/// `200` once it is stored.
pub async fn accept(
    state: &AppState,
    upload: Upload,
    accepted: impl Serialize,
    wait: bool,
    on_stored: OnStored,
) -> Result<Response, ApiError> {
    let upload_id = upload.stamp.upload_id;
    publish(state, &upload).await?;
    tracing::debug!(upload.id = %upload_id, project.id = upload.project_id, "write accepted");
    let mut response = None;
    if wait {
        let touched = Touched::of(&upload.operation);
        let uuid = upload.uuid().as_str();
        let stored = stored_session(
            state,
            upload.project_id,
            uuid,
            touched,
            upload.stamp.order(),
        );
        response = match (stored.await, on_stored) {
            (Some(view), OnStored::Session) => Some(success(StatusCode::OK, view, Some("stored"))),
            (Some(_), OnStored::SameResult) => {
                Some(success(StatusCode::OK, &accepted, Some("stored")))
            }
            (None, _) => None,
        };
    }
    let response =
        response.unwrap_or_else(|| success(StatusCode::ACCEPTED, accepted, Some("accepted")));
    Ok(with_upload_id(response, upload_id))
}

/// Waits (at most `front.wait_stored_ms`) until the stored session reflects the write, then
/// reads it (deleted or not). `None` on timeout or when the read fails: the caller answers
/// `202` as if it had not waited.
pub async fn stored_session(
    state: &AppState,
    project_id: i64,
    uuid: &str,
    touched: Touched,
    order: Order,
) -> Option<SessionView> {
    let limit = state.config.front.wait_stored();
    if !state
        .waiter
        .wait(project_id, uuid, touched, order, limit)
        .await
    {
        return None;
    }
    let key = uuid.to_owned();
    match state
        .store
        .run(move |conn| load_session(conn, project_id, &key, true))
        .await
    {
        Ok(view) => view,
        Err(error) => {
            tracing::warn!(%error, "write stored but not readable; answering 202");
            None
        }
    }
}

/// Names the write's upload id in `X-Upload-Id`.
pub fn with_upload_id(mut response: Response, upload_id: uuid::Uuid) -> Response {
    if let Ok(value) = HeaderValue::from_str(&upload_id.to_string()) {
        response.headers_mut().insert(UPLOAD_ID_HEADER, value);
    }
    response
}
