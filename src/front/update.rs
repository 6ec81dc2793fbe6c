//! `PUT`/`PATCH …/sessions/{uuid}` (partial update) and `DELETE …/sessions/{uuid}` (soft
//! delete). Both travel through the queue like a create and obey the same acceptance order;
//! the existence check reads PostgreSQL (these are not the hot path).

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::params::{self, Query};
use super::write_path::{self, OnStored, WriteRequest};
use super::{AppState, parse_project_id};
use crate::session::patch::Patch;
use crate::session::write::Write;
use crate::session::{SessionUuid, remember_file_digests};
use crate::view::{PointView, SessionView, Time};
use crate::wire::Upload;

/// The parts of a request to one session both routes read first.
struct Target {
    request: WriteRequest,
    uuid: SessionUuid,
    include_deleted: bool,
}

fn target(
    state: &AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, ApiError> {
    let (project, uuid) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    let query = Query::parse(query);
    Ok(Target {
        request: WriteRequest::authorize(state, headers, project_id, &query)?,
        uuid: params::uuid(&uuid)?,
        include_deleted: query.flag("deleted")?,
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
    let Target {
        request,
        uuid,
        include_deleted,
    } = target(&state, path, query.as_deref(), &headers)?;
    let current = write_path::existing(&state, request.project_id, &uuid, include_deleted).await?;
    let raw = write_path::read_session(&state, &headers, body).await?;
    let stamp = request.stamp();
    let mut patch = raw
        .parse_patch(&uuid, &state.config.limits, stamp.received_seconds())
        .map_err(ApiError::invalid)?;
    remember_file_digests(&mut patch.points);
    let write = Write::Update(patch);
    // Predicted after the publish, from the upload's own patch (see `accept`).
    let predicted = move |upload: &Upload| match &upload.operation {
        Write::Update(patch) => Some(updated(current, patch)),
        _ => None,
    };
    request
        .accept(&state, stamp, write, predicted, OnStored::Session)
        .await
}

/// Soft-deletes the session (`is_deleted` true, data kept); `404` if it does not exist.
pub async fn delete_session(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Target {
        request,
        uuid,
        include_deleted,
    } = target(&state, path, query.as_deref(), &headers)?;
    let mut predicted =
        write_path::existing(&state, request.project_id, &uuid, include_deleted).await?;
    predicted.is_deleted = true;
    let stamp = request.stamp();
    request
        .accept(
            &state,
            stamp,
            Write::Delete { uuid },
            |_| predicted,
            OnStored::Session,
        )
        .await
}

/// The session as it will read once the update is applied (unless another write overtakes
/// it): the `result` of the `202`.
fn updated(mut view: SessionView, patch: &Patch) -> SessionView {
    if let Some(unit_id) = &patch.unit_id {
        unit_id.as_str().clone_into(&mut view.unit_id);
    }
    if let Some(created) = patch.created {
        view.created = Time::from_seconds(created);
    }
    view.saved = Time::from_seconds(patch.saved);
    for (name, value) in &patch.points {
        view.data
            .insert(name.as_str().to_owned(), PointView::from(value));
    }
    view
}
