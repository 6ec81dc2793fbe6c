//! What a route reads before its work: for a read of a project, the path's project and the
//! authorisation; for every write to an existing session also the uuid and point,
//! `?wait=stored` and `?deleted=true`. Extractors, so each handler names them once and every
//! route checks them in the same order.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::Deserialize;

use super::error::ApiError;
use super::params::{self, Query};
use super::write_path::{self, WriteRequest};
use super::{AppState, parse_project_id};
use crate::session::{PointName, SessionUuid};
use crate::view::SessionView;

/// The path parameters of the session and attachment routes, by name.
#[derive(Deserialize)]
struct Segments {
    project_id: String,
    uuid: String,
    point: Option<String>,
}

/// A read of one project (`…/projects/{project_id}/…`), authorised, with its query string.
pub struct ProjectRead {
    /// The project read.
    pub project_id: i64,
    /// The query string.
    pub query: Query,
}

impl FromRequestParts<AppState> for ProjectRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let project: String = params::path(Path::from_request_parts(parts, state).await)?;
        let project_id = parse_project_id(&project)?;
        params::authorize(state, &parts.headers, project_id)?;
        Ok(Self {
            project_id,
            query: Query::parse(parts.uri.query()),
        })
    }
}

/// A write to one session (`…/sessions/{uuid}`).
pub struct SessionTarget {
    /// The authorised write, with its `?wait=stored`.
    pub request: WriteRequest,
    /// The session written to.
    pub uuid: SessionUuid,
    /// The query string.
    pub query: Query,
    /// `?deleted=true`: a soft-deleted session may be written to.
    pub include_deleted: bool,
}

/// A write to one point's attachment (`…/sessions/{uuid}/attachments/{point}`).
pub struct PointTarget {
    /// The session part of the target.
    pub session: SessionTarget,
    /// The point whose attachment changes.
    pub point: PointName,
}

impl SessionTarget {
    /// The session as it is stored now, or `404` (a deleted one only with `?deleted=true`).
    pub async fn existing(&self, state: &AppState) -> Result<SessionView, ApiError> {
        let project_id = self.request.project_id;
        write_path::existing(state, project_id, &self.uuid, self.include_deleted).await
    }
}

async fn extract(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(SessionTarget, Option<PointName>), ApiError> {
    let segments: Segments = params::path(Path::from_request_parts(parts, state).await)?;
    let project_id = parse_project_id(&segments.project_id)?;
    let query = Query::parse(parts.uri.query());
    let request = WriteRequest::authorize(state, &parts.headers, project_id, &query)?;
    let uuid = params::uuid(&segments.uuid)?;
    let point = segments.point.as_deref().map(params::point).transpose()?;
    let target = SessionTarget {
        request,
        uuid,
        include_deleted: query.flag("deleted")?,
        query,
    };
    Ok((target, point))
}

impl FromRequestParts<AppState> for SessionTarget {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(extract(parts, state).await?.0)
    }
}

impl FromRequestParts<AppState> for PointTarget {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match extract(parts, state).await? {
            (session, Some(point)) => Ok(Self { session, point }),
            // Only a route without `{point}` gets here: a routing mistake, not the client's.
            (_, None) => Err(ApiError::field("point", "is required")),
        }
    }
}
