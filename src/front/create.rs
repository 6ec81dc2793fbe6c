//! `POST /api/v1/projects/{project_id}/sessions`: decode, check, stamp, then the shared
//! write path (publish, wait, answer).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::ApiError;
use super::params::Query;
use super::write_path::{OnStored, WriteRequest};
use super::{AppState, parse_project_id};
use crate::session::remember_file_digests;
use crate::session::write::Write;
use crate::view::SessionView;
use crate::wire::Upload;

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
    let project_id = parse_project_id(&project)?;
    let query = Query::parse(query.as_deref());
    let request = WriteRequest::authorize(&state, &headers, project_id, &query)?;
    let raw = request.read_session(&state, &headers, body).await?;
    let stamp = request.stamp();
    let mut session = raw
        .parse(&state.config.limits, stamp.received_seconds())
        .map_err(ApiError::invalid)?;
    remember_file_digests(&mut session.points);
    let write = Write::Create(session);
    request
        .accept(&state, stamp, write, accepted_view, OnStored::Session)
        .await
}

/// The `202`'s result: the session as it will be stored (a create's upload always holds one).
fn accepted_view(upload: &Upload) -> Option<SessionView> {
    match &upload.operation {
        Write::Create(session) => Some(SessionView::accepted(session, &upload.stamp)),
        _ => None,
    }
}
