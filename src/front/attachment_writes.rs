//! `PUT` and `DELETE …/sessions/{uuid}/attachments/{point}`: replace or remove one point's
//! attachment, through the queue like every write.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use http_body_util::{BodyDataStream, BodyExt as _, LengthLimitError, Limited};
use multer::{Constraints, Multipart, SizeLimit};
use serde::Serialize;

use super::accept::{self, OnStored};
use super::attachments::attachment_not_found;
use super::error::ApiError;
use super::params::{self, Query};
use super::{AppState, parse_project_id};
use crate::decode::multipart::stream_error;
use crate::ordering::Stamp;
use crate::session::write::Write;
use crate::session::{FileAttachment, PointName, SessionUuid, check_file};
use crate::store::read::has_attachment;
use crate::wire::Upload;

/// The multipart field that carries the file.
pub const FIELD: &str = "attachment";
const OCTET_STREAM: &str = "application/octet-stream";

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

struct Target {
    project_id: i64,
    principal: String,
    uuid: SessionUuid,
    point: PointName,
    query: Query,
    include_deleted: bool,
    wait: bool,
}

fn target(
    state: &AppState,
    path: Result<Path<(String, String, String)>, PathRejection>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, ApiError> {
    let (project, uuid, point) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    let principal = params::authorize(state, headers, project_id)?;
    let query = Query::parse(query);
    Ok(Target {
        project_id,
        principal,
        uuid: params::uuid(&uuid)?,
        point: params::point(&point)?,
        include_deleted: query.flag("deleted")?,
        wait: query.wait_stored()?,
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
    accept::existing(
        &state,
        target.project_id,
        &target.uuid,
        target.include_deleted,
    )
    .await?;
    let filename = target.query.get("filename").map(str::to_owned);
    let mut file =
        accept::within_read_timeout(&state, read_file(&state, &headers, body, filename)).await?;
    check_file(&file).map_err(|message| ApiError::field(FIELD, message))?;
    file.remember_md5();
    let result = Uploaded {
        length: file.bytes.len() as u64,
        md5: hex::encode(file.md5()),
    };
    let write = Write::PutAttachment {
        uuid: target.uuid,
        point: target.point,
        file,
    };
    let stamp = Stamp::now(&target.principal);
    let upload = Upload::write(target.project_id, stamp, write);
    accept::accept(&state, upload, result, target.wait, OnStored::SameResult).await
}

/// Removes the point's attachment; `404` if the session or the attachment is absent.
pub async fn delete_attachment(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let target = target(&state, path, query.as_deref(), &headers)?;
    let (project_id, include_deleted) = (target.project_id, target.include_deleted);
    let (key, name) = (
        target.uuid.as_str().to_owned(),
        target.point.as_str().to_owned(),
    );
    let present = state
        .store
        .run(move |conn| has_attachment(conn, project_id, &key, &name, include_deleted))
        .await?;
    if !present {
        return Err(attachment_not_found(
            target.uuid.as_str(),
            target.point.as_str(),
        ));
    }
    let result = Removed {
        point: target.point.as_str().to_owned(),
        deleted: true,
    };
    let write = Write::DeleteAttachment {
        uuid: target.uuid,
        point: target.point,
    };
    let upload = Upload::write(project_id, Stamp::now(&target.principal), write);
    accept::accept(&state, upload, result, target.wait, OnStored::SameResult).await
}

/// Reads the file from a multipart body (field `attachment`) or from the raw body.
async fn read_file(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    filename: Option<String>,
) -> Result<FileAttachment, ApiError> {
    let limit = state.config.front.body_limit_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty());
    let limited = Limited::new(body, limit);
    let file = match content_type.map(|ct| (ct, multer::parse_boundary(ct))) {
        Some((ct, Ok(boundary))) if ct.to_ascii_lowercase().starts_with("multipart/") => {
            let size = SizeLimit::new().whole_stream(limit as u64);
            let mut multipart = Multipart::with_constraints(
                BodyDataStream::new(limited),
                boundary,
                Constraints::new().size_limit(size),
            );
            let mut found = None;
            while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
                if field.name() != Some(FIELD) {
                    continue;
                }
                if found.is_some() {
                    return Err(ApiError::field(FIELD, "is given more than once"));
                }
                let filename = field.file_name().map(str::to_owned);
                let content_type = field
                    .content_type()
                    .map_or_else(|| OCTET_STREAM.to_owned(), ToString::to_string);
                let bytes = field.bytes().await.map_err(multipart_error)?;
                found = Some(FileAttachment {
                    filename,
                    content_type,
                    bytes: bytes.to_vec(),
                    md5: None,
                });
            }
            found.ok_or_else(|| {
                ApiError::field(FIELD, "is required: a multipart field named attachment")
            })?
        }
        Some((ct, Err(_))) if ct.to_ascii_lowercase().starts_with("multipart/") => {
            return Err(ApiError::field(
                "body",
                "multipart/form-data needs a boundary parameter in Content-Type",
            ));
        }
        _ => {
            let bytes = match limited.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<LengthLimitError>() => return Err(too_large(limit)),
                Err(error) => {
                    return Err(ApiError::field(
                        FIELD,
                        format!("could not read it: {error}"),
                    ));
                }
            };
            if bytes.is_empty() {
                return Err(ApiError::field(
                    FIELD,
                    "is required: a multipart field named attachment, or a non-empty body",
                ));
            }
            FileAttachment {
                filename,
                content_type: content_type.unwrap_or(OCTET_STREAM).to_owned(),
                bytes: bytes.to_vec(),
                md5: None,
            }
        }
    };
    Ok(file)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("the body must be at most {limit} bytes"))
}

fn multipart_error(error: multer::Error) -> ApiError {
    ApiError::from(stream_error(error))
}
