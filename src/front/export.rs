//! `GET …/sessions/export`: every matching session, streamed page by page in constant memory.
//! The stream asks for the next page only when the client has taken the previous one, so a
//! client that disconnects drops the stream and no further query runs.

use std::collections::{BTreeSet, HashMap};

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{self, Stream};

use super::AppState;
use super::error::ApiError;
use super::read::list_filter;
use super::target::ProjectRead;
use crate::session::encode_base64;
use crate::store::StoreError;
use crate::store::read::{ListFilter, Position, file_bytes, list_sessions};
use crate::view::{PointView, SessionView};

/// Sessions per page; the list's byte bound applies too.
const PAGE: i64 = 200;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

/// The export of a project's sessions (newest received first), as `format=ndjson` (default)
/// or `format=csv`.
pub async fn export(
    State(state): State<AppState>,
    ProjectRead { project_id, query }: ProjectRead,
) -> Result<Response, ApiError> {
    let format = match query.get("format").map(str::trim) {
        None | Some("ndjson") => Format::Ndjson,
        Some("csv") => Format::Csv,
        Some(_) => return Err(ApiError::field("format", "must be ndjson or csv")),
    };
    let filter = list_filter(&query)?;
    let (content_type, header_line, columns) = match format {
        Format::Ndjson => ("application/x-ndjson", None, Vec::new()),
        Format::Csv => {
            // A first pass for the union of point names: memory grows with the names, not
            // with the sessions.
            let columns = point_names(&state, project_id, &filter).await?;
            let line = csv_line(
                FIXED
                    .iter()
                    .copied()
                    .chain(columns.iter().map(String::as_str)),
            );
            ("text/csv; charset=utf-8", Some(line), columns)
        }
    };
    let pages = pages(state, project_id, filter, format, columns);
    let head = stream::iter(header_line.map(|line| Ok(Bytes::from(line))));
    let body = Body::from_stream(futures_util::StreamExt::chain(head, pages));
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// Every point name over the export, in order.
async fn point_names(
    state: &AppState,
    project_id: i64,
    filter: &ListFilter,
) -> Result<Vec<String>, ApiError> {
    let mut names = BTreeSet::new();
    let mut after = None;
    loop {
        let filter = filter.clone();
        let (views, next) = state
            .reads
            .run(move |conn| list_sessions(conn, project_id, &filter, after, PAGE))
            .await?;
        names.extend(views.into_iter().flat_map(|view| view.data.into_keys()));
        match next {
            Some(next) => after = Some(next),
            None => return Ok(names.into_iter().collect()),
        }
    }
}

/// The body after the CSV header: one chunk per page.
fn pages(
    state: AppState,
    project_id: i64,
    filter: ListFilter,
    format: Format,
    columns: Vec<String>,
) -> impl Stream<Item = Result<Bytes, StoreError>> {
    let start: Option<Option<Position>> = Some(None);
    stream::try_unfold(start, move |cursor| {
        let state = state.clone();
        let filter = filter.clone();
        let columns = columns.clone();
        async move {
            let Some(after) = cursor else {
                return Ok(None);
            };
            let chunk = state
                .reads
                .run(move |conn| {
                    let (views, next) = list_sessions(conn, project_id, &filter, after, PAGE)?;
                    let text = match format {
                        Format::Csv => views
                            .iter()
                            .map(|view| csv_row(view, project_id, &columns))
                            .collect::<String>(),
                        Format::Ndjson => {
                            let uuids: Vec<String> =
                                views.iter().map(|view| view.uuid.clone()).collect();
                            let files = file_bytes(conn, project_id, &uuids)?;
                            ndjson(views, files)
                        }
                    };
                    Ok((text, next))
                })
                .await?;
            let (text, next) = chunk;
            Ok(Some((Bytes::from(text), next.map(Some))))
        }
    })
}

/// One line per session, as the read API shows it, with each file attachment's bytes as
/// base64 under `base64` beside its description.
fn ndjson(views: Vec<SessionView>, files: Vec<(String, String, Vec<u8>)>) -> String {
    let mut files: HashMap<(String, String), Vec<u8>> = files
        .into_iter()
        .map(|(uuid, point, bytes)| ((uuid, point), bytes))
        .collect();
    let mut out = String::new();
    for view in views {
        let uuid = view.uuid.clone();
        let mut value = serde_json::to_value(&view).unwrap_or_default();
        if let Some(data) = value.get_mut("data").and_then(|data| data.as_object_mut()) {
            for (point, shown) in data.iter_mut() {
                if let (Some(bytes), Some(object)) = (
                    files.remove(&(uuid.clone(), point.clone())),
                    shown.as_object_mut(),
                ) {
                    object.insert("base64".into(), encode_base64(&bytes).into());
                }
            }
        }
        out.push_str(&value.to_string());
        out.push('\n');
    }
    out
}

/// The columns before the points.
const FIXED: [&str; 7] = [
    "uuid",
    "unit_id",
    "created",
    "saved",
    "received",
    "received_from",
    "is_deleted",
];

fn csv_row(view: &SessionView, project_id: i64, columns: &[String]) -> String {
    let fixed = [
        view.uuid.clone(),
        view.unit_id.clone(),
        view.created.seconds().to_string(),
        view.saved.seconds().to_string(),
        view.received.seconds().to_string(),
        view.received_from.clone(),
        view.is_deleted.to_string(),
    ];
    let points = columns.iter().map(|name| match view.data.get(name) {
        None => String::new(),
        Some(PointView::Text(text)) => text.clone(),
        Some(PointView::Raw { .. } | PointView::File { .. }) => format!(
            "/api/v1/projects/{project_id}/sessions/{}/attachments/{name}{}",
            view.uuid,
            if view.is_deleted { "?deleted=true" } else { "" }
        ),
    });
    let cells: Vec<String> = fixed.into_iter().chain(points).collect();
    csv_line(cells.iter().map(String::as_str))
}

/// One RFC 4180 line: a cell with a comma, quote or line break is quoted, quotes doubled.
fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    let mut line = cells
        .map(|cell| {
            if cell.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", cell.replace('"', "\"\""))
            } else {
                cell.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}
