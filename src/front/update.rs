//! `PUT`/`PATCH …/sessions/{uuid}` (partial update) and `DELETE …/sessions/{uuid}` (soft
//! delete). Both travel through the queue like a create and obey the same acceptance order;
//! the existence check reads PostgreSQL (these are not the hot path).

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::accept::{self, OnStored};
use super::error::ApiError;
use super::params::{self, Query};
use super::{AppState, parse_project_id};
use crate::ordering::Stamp;
use crate::session::encode_base64;
use crate::session::patch::Patch;
use crate::session::write::Write;
use crate::session::{PointValue, SessionUuid, remember_file_digests};
use crate::view::{PointView, SessionView, describe_file, rfc3339};
use crate::wire::Upload;

/// The parts of a request to one session every write route reads first.
struct Target {
    project_id: i64,
    principal: String,
    uuid: SessionUuid,
    include_deleted: bool,
    wait: bool,
}

async fn target(
    state: &AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, ApiError> {
    let (project, uuid) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    let principal = params::authorize(state, headers, project_id)?;
    let uuid = params::uuid(&uuid)?;
    let query = Query::parse(query);
    Ok(Target {
        project_id,
        principal,
        uuid,
        include_deleted: query.flag("deleted")?,
        wait: query.wait_stored()?,
    })
}

/// Changes only the given fields and points; `saved` defaults to the receive time. `404`
/// if the session does not exist (or is deleted, unless `?deleted=true`).
pub async fn update_session(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let target = target(&state, path, query.as_deref(), &headers).await?;
    let current = accept::existing(
        &state,
        target.project_id,
        &target.uuid,
        target.include_deleted,
    )
    .await?;
    let raw = accept::read_raw_session(&state, &headers, body).await?;
    let stamp = Stamp::now(&target.principal);
    let mut patch = raw
        .parse_patch(&target.uuid, &state.config.limits, stamp.received_seconds())
        .map_err(ApiError::invalid)?;
    remember_file_digests(&mut patch.points);
    let predicted = updated(current, &patch);
    let upload = Upload::write(target.project_id, stamp, Write::Update(patch));
    accept::accept(&state, upload, predicted, target.wait, OnStored::Session).await
}

/// Soft-deletes the session (`is_deleted` true, data kept); `404` if it does not exist.
pub async fn delete_session(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let target = target(&state, path, query.as_deref(), &headers).await?;
    let mut predicted = accept::existing(
        &state,
        target.project_id,
        &target.uuid,
        target.include_deleted,
    )
    .await?;
    predicted.is_deleted = true;
    let stamp = Stamp::now(&target.principal);
    let write = Write::Delete {
        uuid: target.uuid.clone(),
    };
    let upload = Upload::write(target.project_id, stamp, write);
    accept::accept(&state, upload, predicted, target.wait, OnStored::Session).await
}

/// The session as it will read once the update is applied (unless another write overtakes
/// it): the `result` of the `202`.
fn updated(mut view: SessionView, patch: &Patch) -> SessionView {
    if let Some(unit_id) = &patch.unit_id {
        unit_id.as_str().clone_into(&mut view.unit_id);
    }
    if let Some(created) = patch.created {
        view.created = rfc3339(created);
        view.created_timestamp = created;
    }
    view.saved = rfc3339(patch.saved);
    view.saved_timestamp = patch.saved;
    for (name, value) in &patch.points {
        let point = match value {
            PointValue::Text(text) => PointView::Text(text.clone()),
            PointValue::Raw(bytes) => PointView::Raw {
                raw_data: encode_base64(bytes),
            },
            PointValue::File(file) => describe_file(file),
        };
        view.data.insert(name.as_str().to_owned(), point);
    }
    view
}
