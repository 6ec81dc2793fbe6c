//! `…/sessions/{uuid}/attachments/{point}`: the bytes of one point's attachment.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::ApiError;
use super::params::{self, Query};
use super::{AppState, parse_project_id};
use crate::store::read::{AttachmentFile, load_attachment};

/// Characters kept as they are in an RFC 5987 `filename*` value.
const FILENAME_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The raw bytes with the stored content type; `404` if the session or the attachment is
/// not there.
pub async fn get_attachment(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, uuid, point) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    params::authorize(&state, &headers, project_id)?;
    let uuid = params::uuid(&uuid)?;
    let point = params::point(&point)?;
    let include_deleted = Query::parse(query.as_deref()).flag("deleted")?;
    let (key, name) = (uuid.as_str().to_owned(), point.as_str().to_owned());
    let file = state
        .reads
        .run(move |conn| load_attachment(conn, project_id, &key, &name, include_deleted))
        .await?
        .ok_or_else(|| attachment_not_found(uuid.as_str(), point.as_str()))?;
    Ok(file_response(file))
}

/// The `404` of a point without an attachment.
pub fn attachment_not_found(uuid: &str, point: &str) -> ApiError {
    ApiError::NotFound(format!(
        "session {uuid} has no attachment for point {point} in this project"
    ))
}

/// Serves stored bytes as a download: the stored content type (when it is a valid header
/// value), `nosniff` and `Content-Disposition: attachment` so a browser never renders an
/// uploaded file as part of this API's origin.
fn file_response(file: AttachmentFile) -> Response {
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = match &file.filename {
        Some(name) => format!(
            "attachment; filename*=UTF-8''{}",
            utf8_percent_encode(name, FILENAME_KEEP)
        ),
        None => "attachment".to_owned(),
    };
    let mut response = Response::new(Body::from(file.bytes));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
