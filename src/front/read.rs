//! `GET …/sessions/{uuid}` and `GET …/sessions`: reads straight from PostgreSQL.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::error::{ApiError, page, session_not_found, success};
use super::params::{self, Query};
use super::target::ProjectRead;
use super::{AppState, parse_project_id};
use crate::session::UnitId;
use crate::store::read::{ListFilter, list_sessions, load_session};

/// The most sessions one page may hold.
pub const MAX_PAGE: i64 = 1_000;
/// The page size when `limit` is not given.
pub const DEFAULT_PAGE: i64 = 100;

/// One session; `404` if it is absent, in another project, or deleted (unless
/// `?deleted=true`).
pub async fn get_session(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, uuid) = params::path(path)?;
    let project_id = parse_project_id(&project)?;
    params::authorize(&state, &headers, project_id)?;
    let uuid = params::uuid(&uuid)?;
    let include_deleted = Query::parse(query.as_deref()).flag("deleted")?;
    let key = uuid.as_str().to_owned();
    let view = state
        .reads
        .run(move |conn| load_session(conn, project_id, &key, include_deleted))
        .await?
        .ok_or_else(|| session_not_found(uuid.as_str()))?;
    Ok(success(StatusCode::OK, view, None))
}

/// A page of a project's sessions, newest received first.
pub async fn list(
    State(state): State<AppState>,
    ProjectRead { project_id, query }: ProjectRead,
) -> Result<Response, ApiError> {
    let filter = list_filter(&query)?;
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(limit) if (1..=MAX_PAGE).contains(&limit) => limit,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    format!("must be an integer from 1 to {MAX_PAGE}"),
                ));
            }
        },
    };
    let after = query.get("cursor").map(params::decode_cursor).transpose()?;
    let (views, next) = state
        .reads
        .run(move |conn| list_sessions(conn, project_id, &filter, after, limit))
        .await?;
    Ok(page(views, next.map(params::encode_cursor)))
}

/// The filters shared by the list and the export: `unit_id`, `since`, `until`, `deleted`.
pub fn list_filter(query: &Query) -> Result<ListFilter, ApiError> {
    Ok(ListFilter {
        unit_id: query
            .get("unit_id")
            .map(|text| {
                UnitId::parse(text)
                    .map(|unit| unit.as_str().to_owned())
                    .map_err(|message| ApiError::field("unit_id", message))
            })
            .transpose()?,
        since: query.unix_seconds("since")?,
        until: query.unix_seconds("until")?,
        include_deleted: query.flag("deleted")?,
    })
}
