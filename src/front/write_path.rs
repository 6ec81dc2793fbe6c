//! The steps every write route (create, update, delete, attachment put and delete) shares:
//! read the body within the read timeout, check that the session exists (all but create),
//! publish the stamped write confirmed, and answer — `202` once the broker confirmed, or with
//! `?wait=stored` `200` once the consumer committed it (if it does within
//! `front.wait_stored_ms`).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, session_not_found, success};
use super::params::{self, Query};
use super::publish::{publish, read_back};
use crate::broker::Envelope;
use crate::decode::{self, BodyHeaders};
use crate::ordering::{Order, Stamp, Touched};
use crate::session::write::Write;
use crate::session::{FileAttachment, RawSession, SessionUuid};
use crate::store::read::load_session;
use crate::view::{SessionView, UPLOAD_ID_HEADER};
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

/// Reads an attachment write's file (see [`decode::attachment`]) within the body read
/// timeout.
pub async fn read_attachment(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    filename: Option<String>,
) -> Result<FileAttachment, ApiError> {
    let limit = state.config.front.body_limit_bytes;
    let read = decode::attachment::decode(body_headers(headers), body, limit, filename);
    within_read_timeout(state, read).await
}

fn body_headers(headers: &HeaderMap) -> BodyHeaders<'_> {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    BodyHeaders {
        content_type: text(header::CONTENT_TYPE),
        content_length: text(header::CONTENT_LENGTH).and_then(|value| value.parse().ok()),
    }
}

/// Runs a body read within `front.body_read_timeout_ms` (`408` after it).
async fn within_read_timeout<T>(
    state: &AppState,
    read: impl Future<Output = Result<T, decode::DecodeError>>,
) -> Result<T, ApiError> {
    let limit = Duration::from_millis(state.config.front.body_read_timeout_ms);
    let read = tokio::time::timeout(limit, read)
        .await
        .map_err(|_| ApiError::Timeout(format!("the body was not received within {limit:?}")))?;
    Ok(read?)
}

/// A write request once authorised: its project and principal, whether the client waits for
/// the store (`?wait=stored`), and when it came in (for the accept latency).
pub struct WriteRequest {
    /// The project written to.
    pub project_id: i64,
    principal: String,
    wait: bool,
    started: Instant,
}

impl WriteRequest {
    /// Authorises the request for `project_id` and reads `?wait=stored`.
    pub fn authorize(
        state: &AppState,
        headers: &HeaderMap,
        project_id: i64,
        query: &Query,
    ) -> Result<Self, ApiError> {
        let started = Instant::now();
        let principal = params::authorize(state, headers, project_id)?;
        Ok(Self {
            project_id,
            principal,
            wait: query.wait_stored()?,
            started,
        })
    }

    /// Reads and decodes a session body (create or update) by its content type, never past
    /// the body limit, within the body read timeout. Repeated fields are counted by encoding
    /// and logged with the device, so operators can see which clients send them.
    pub async fn read_session(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<RawSession, ApiError> {
        let body_headers = body_headers(headers);
        let read = decode::read_session(
            body_headers,
            body,
            state.config.front.body_limit_bytes,
            &state.config.limits,
        );
        let raw = within_read_timeout(state, read).await?;
        if raw.repeated.count > 0 {
            let encoding =
                decode::body_kind(body_headers.content_type).map_or("unknown", |kind| kind.label());
            metrics::counter!("intake_repeated_fields_total", "encoding" => encoding)
                .increment(raw.repeated.count);
            tracing::debug!(
                encoding,
                repeats = raw.repeated.count,
                fields = ?raw.repeated.names,
                unit_id = raw.unit_id.as_deref().unwrap_or(""),
                user = %self.principal,
                project.id = self.project_id,
                "repeated fields: the last occurrence of each was kept"
            );
        }
        Ok(raw)
    }

    /// Stamps the write now. Call it once the body is read, so that the receive time is when
    /// the write had arrived whole.
    pub fn stamp(&self) -> Stamp {
        Stamp::now(&self.principal)
    }

    /// Publishes the write and answers it: `202` with `accepted(&upload)` as `result`, or
    /// when the client waits `200` once it is stored. A large upload is dropped once encoded
    /// and read back from its body after the confirm, and the result built only then, so
    /// that while the broker confirms the front holds the body and the AMQP client's copy of
    /// it, not the decoded session as well. Small uploads are kept: decoding them again
    /// would cost every request for no memory worth saving.
    pub async fn accept<R: Serialize>(
        self,
        state: &AppState,
        stamp: Stamp,
        write: Write,
        accepted: impl FnOnce(&Upload) -> R,
        on_stored: OnStored,
    ) -> Result<Response, ApiError> {
        let upload = Upload::write(self.project_id, stamp, write);
        let envelope = Envelope::of(&upload);
        let upload_id = envelope.upload_id;
        let body = Bytes::from(upload.encode());
        let kept = if body.len() > state.config.front.group_alone_bytes {
            drop(upload);
            None
        } else {
            Some(upload)
        };
        publish(state, &envelope, body.clone()).await?;
        let upload = match kept {
            Some(upload) => upload,
            None => read_back(&body)?,
        };
        drop(body);
        tracing::debug!(upload.id = %upload_id, project.id = self.project_id, "write accepted");
        metrics::histogram!("intake_accept_seconds").record(self.started.elapsed().as_secs_f64());
        let result = accepted(&upload);
        let touched = Touched::of(&upload.operation);
        let order = upload.stamp.order();
        let uuid = upload.uuid().as_str().to_owned();
        drop(upload);
        let mut response = None;
        if self.wait {
            let stored = stored_session(state, self.project_id, &uuid, touched, order);
            response = match (stored.await, on_stored) {
                (Some(view), OnStored::Session) => {
                    Some(success(StatusCode::OK, view, Some("stored")))
                }
                (Some(_), OnStored::SameResult) => {
                    Some(success(StatusCode::OK, &result, Some("stored")))
                }
                (None, _) => None,
            };
        }
        let response =
            response.unwrap_or_else(|| success(StatusCode::ACCEPTED, result, Some("accepted")));
        Ok(with_upload_id(response, upload_id))
    }
}

/// Waits (at most `front.wait_stored_ms`) until the stored session reflects the write, then
/// reads it (deleted or not). `None` on timeout or when the read fails: the caller answers
/// `202` as if it had not waited.
async fn stored_session(
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
fn with_upload_id(mut response: Response, upload_id: uuid::Uuid) -> Response {
    if let Ok(value) = HeaderValue::from_str(&upload_id.to_string()) {
        response.headers_mut().insert(UPLOAD_ID_HEADER, value);
    }
    response
}
