//! `PUT`/`PATCH …/sessions/{uuid}` (partial update) and `DELETE …/sessions/{uuid}` (soft
//! delete). Both travel through the queue like a create and obey the same acceptance order;
//! the existence check reads PostgreSQL (these are not the hot path).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use super::target::SessionTarget;
use super::write_path::OnStored;
use crate::session::patch::Patch;
use crate::session::remember_file_digests;
use crate::session::write::Write;
use crate::view::{PointView, SessionView, Time};
use crate::wire::Upload;

/// Changes only the given fields and points; `saved` defaults to the receive time. `404`
/// if the session does not exist (or is deleted, unless `?deleted=true`).
pub async fn update_session(
    State(state): State<AppState>,
    target: SessionTarget,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let current = target.existing(&state).await?;
    let raw = target.request.read_session(&state, &headers, body).await?;
    let stamp = target.request.stamp();
    let mut patch = raw
        .parse_patch(&target.uuid, &state.config.limits, stamp.received_seconds())
        .map_err(ApiError::invalid)?;
    remember_file_digests(&mut patch.points);
    let write = Write::Update(patch);
    // Predicted after the publish, from the upload's own patch (see `accept`).
    let predicted = move |upload: &Upload| match &upload.operation {
        Write::Update(patch) => Some(updated(current, patch)),
        _ => None,
    };
    target
        .request
        .accept(&state, stamp, write, predicted, OnStored::Session)
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

/// Soft-deletes the session (`is_deleted` true, data kept); `404` if it does not exist.
pub async fn delete_session(
    State(state): State<AppState>,
    target: SessionTarget,
) -> Result<Response, ApiError> {
    let mut predicted = target.existing(&state).await?;
    predicted.is_deleted = true;
    let stamp = target.request.stamp();
    let write = Write::Delete { uuid: target.uuid };
    target
        .request
        .accept(&state, stamp, write, |_| predicted, OnStored::Session)
        .await
}
