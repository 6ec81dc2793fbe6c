//! `PUT` and `DELETE …/sessions/{uuid}/attachments/{point}`: replace or remove one point's
//! attachment, through the queue like every write.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::attachments::attachment_not_found;
use super::error::ApiError;
use super::params::{self, Query};
use super::write_path::{self, OnStored, WriteRequest};
use super::{AppState, parse_project_id};
use crate::decode::attachment::FIELD;
use crate::session::write::Write;
use crate::session::{PointName, SessionUuid, check_file};
use crate::store::read::has_attachment;

/// The `result` of an attachment upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uploaded {
    /// Size in bytes.
    pub length: u64,
    /// MD5 of the bytes, lower-case hex.
    pub md5: String,
}

/// The `result` of an attachment removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The point whose attachment goes.
    pub point: String,
    /// Always true.
    pub deleted: bool,
}

/// The parts of a request to one point both routes read first.
struct Target {
    request: WriteRequest,
    uuid: SessionUuid,
    point: PointName,
    query: Query,
    include_deleted: bool,
}

fn target(
    state: &AppState,
    path: Result<Path<(String, String, String)>, PathRejection>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, ApiError> {
    let (project, uuid, point) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    let query = Query::parse(query);
    Ok(Target {
        request: WriteRequest::authorize(state, headers, project_id, &query)?,
        uuid: params::uuid(&uuid)?,
        point: params::point(&point)?,
        include_deleted: query.flag("deleted")?,
        query,
    })
}

/// Replaces the point's attachment with the multipart field `attachment`, or with the raw
/// body (its content type kept, the file name from `?filename=`). `400` without a file.
pub async fn put_attachment(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let target = target(&state, path, query.as_deref(), &headers)?;
    let request = target.request;
    write_path::existing(
        &state,
        request.project_id,
        &target.uuid,
        target.include_deleted,
    )
    .await?;
    let filename = target.query.get("filename").map(str::to_owned);
    let mut file = write_path::read_attachment(&state, &headers, body, filename).await?;
    check_file(&file).map_err(|message| ApiError::field(FIELD, message))?;
    file.remember_md5();
    let result = Uploaded {
        length: file.bytes.len() as u64,
        md5: hex::encode(file.md5()),
    };
    let stamp = request.stamp();
    let write = Write::PutAttachment {
        uuid: target.uuid,
        point: target.point,
        file,
    };
    request
        .accept(&state, stamp, write, |_| result, OnStored::SameResult)
        .await
}

/// Removes the point's attachment; `404` if the session or the attachment is absent.
pub async fn delete_attachment(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Target {
        request,
        uuid,
        point,
        include_deleted,
        ..
    } = target(&state, path, query.as_deref(), &headers)?;
    let project_id = request.project_id;
    let (key, name) = (uuid.as_str().to_owned(), point.as_str().to_owned());
    let present = state
        .store
        .run(move |conn| has_attachment(conn, project_id, &key, &name, include_deleted))
        .await?;
    if !present {
        return Err(attachment_not_found(uuid.as_str(), point.as_str()));
    }
    let result = Removed {
        point: point.as_str().to_owned(),
        deleted: true,
    };
    let stamp = request.stamp();
    let write = Write::DeleteAttachment { uuid, point };
    request
        .accept(&state, stamp, write, |_| result, OnStored::SameResult)
        .await
}
