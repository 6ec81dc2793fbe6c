//! `GET …/sessions/export`: every matching session, streamed page by page in constant memory.
//! The stream asks for the next page only when the client has taken the previous one, so a
//! client that disconnects drops the stream and no further query runs.
//! `intake_export_pages_total` counts the pages served and `intake_exports_in_progress` the
//! streams alive, so a stopped export can be seen from outside.

use std::collections::BTreeSet;
use std::sync::Arc;

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
use crate::export::{Export, Format, point_names_page};
use crate::store::StoreError;
use crate::store::read::{ListFilter, Position};

/// The export of a project's sessions (newest received first), as `format=ndjson` (default)
/// or `format=csv`.
pub async fn export(
    State(state): State<AppState>,
    ProjectRead { project_id, query }: ProjectRead,
) -> Result<Response, ApiError> {
    let format = match query.get("format") {
        None => Format::Ndjson,
        Some(text) => text
            .parse()
            .map_err(|message| ApiError::field("format", message))?,
    };
    let filter = list_filter(&query)?;
    let columns = match format {
        Format::Ndjson => Vec::new(),
        Format::Csv => point_names(&state, project_id, &filter).await?,
    };
    let export = Export {
        project_id,
        filter,
        format,
        columns,
    };
    let head = stream::iter(export.head().map(|line| Ok(Bytes::from(line))));
    let body = Body::from_stream(futures_util::StreamExt::chain(head, pages(state, export)));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response())
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
        let (page, next) = state
            .reads
            .run(move |conn| point_names_page(conn, project_id, &filter, after))
            .await?;
        names.extend(page);
        match next {
            Some(next) => after = Some(next),
            None => return Ok(names.into_iter().collect()),
        }
    }
}

/// Holds `intake_exports_in_progress` up while the stream that owns it lives.
struct InProgress;

impl InProgress {
    fn start() -> Self {
        metrics::gauge!("intake_exports_in_progress").increment(1.0);
        Self
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        metrics::gauge!("intake_exports_in_progress").decrement(1.0);
    }
}

/// The body after the CSV header: one chunk per page.
fn pages(state: AppState, export: Export) -> impl Stream<Item = Result<Bytes, StoreError>> {
    let start: Option<Option<Position>> = Some(None);
    let in_progress = InProgress::start();
    let export = Arc::new(export);
    stream::try_unfold(start, move |cursor| {
        // Named here so the closure, and with it the stream, owns the guard.
        let _in_progress = &in_progress;
        let (state, export) = (state.clone(), Arc::clone(&export));
        async move {
            let Some(after) = cursor else {
                return Ok(None);
            };
            let page = state
                .reads
                .run(move |conn| export.page(conn, after))
                .await?;
            metrics::counter!("intake_export_pages_total").increment(1);
            Ok(Some((Bytes::from(page.text), page.next.map(Some))))
        }
    })
}
