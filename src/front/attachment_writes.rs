//! `PUT` and `DELETE …/sessions/{uuid}/attachments/{point}`: replace or remove one point's
//! attachment, through the queue like every write.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

use super::AppState;
use super::attachments::attachment_not_found;
use super::error::ApiError;
use super::target::PointTarget;
use super::write_path::{self, OnStored};
use crate::decode::attachment::FIELD;
use crate::session::check_file;
use crate::session::write::Write;
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

/// Replaces the point's attachment with the multipart field `attachment`, or with the raw
/// body (its content type kept, the file name from `?filename=`). `400` without a file.
pub async fn put_attachment(
    State(state): State<AppState>,
    PointTarget { session, point }: PointTarget,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    session.existing(&state).await?;
    let filename = session.query.get("filename").map(str::to_owned);
    let mut file = write_path::read_attachment(&state, &headers, body, filename).await?;
    check_file(&file).map_err(|message| ApiError::field(FIELD, message))?;
    file.remember_md5();
    let result = Uploaded {
        length: file.bytes.len() as u64,
        md5: hex::encode(file.md5()),
    };
    let stamp = session.request.stamp();
    let write = Write::PutAttachment {
        uuid: session.uuid,
        point,
        file,
    };
    session
        .request
        .accept(&state, stamp, write, |_| result, OnStored::SameResult)
        .await
}

/// Removes the point's attachment; `404` if the session or the attachment is absent.
pub async fn delete_attachment(
    State(state): State<AppState>,
    PointTarget { session, point }: PointTarget,
) -> Result<Response, ApiError> {
    let (project_id, deleted) = (session.request.project_id, session.include_deleted);
    let (key, name) = (session.uuid.as_str().to_owned(), point.as_str().to_owned());
    let present = state
        .store
        .run(move |conn| has_attachment(conn, project_id, &key, &name, deleted))
        .await?;
    if !present {
        return Err(attachment_not_found(session.uuid.as_str(), point.as_str()));
    }
    let result = Removed {
        point: point.as_str().to_owned(),
        deleted: true,
    };
    let stamp = session.request.stamp();
    let write = Write::DeleteAttachment {
        uuid: session.uuid,
        point,
    };
    session
        .request
        .accept(&state, stamp, write, |_| result, OnStored::SameResult)
        .await
}
