//! The export of a project's sessions, page by page: what the export route streams and what
//! `intake export` writes, byte for byte the same. A page is built on one connection and
//! returned as text, so a caller holds one page at a time whatever the export's size.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use diesel::PgConnection;

use crate::session::encode_base64;
use crate::store::StoreError;
use crate::store::read::{ListFilter, Position, file_bytes, list_sessions};
use crate::view::{PointView, SessionView};

/// Sessions per page; the list's byte bound applies too.
pub const PAGE: i64 = 200;

/// The two export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One JSON line per session: the read view, file bytes inline as base64.
    #[default]
    Ndjson,
    /// A header, then one row per session with a column per point over the export.
    Csv,
}

impl FromStr for Format {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "ndjson" => Ok(Self::Ndjson),
            "csv" => Ok(Self::Csv),
            _ => Err("must be ndjson or csv"),
        }
    }
}

impl Format {
    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// What one export is: the project, its filter, the format and (for CSV) the point columns.
#[derive(Debug, Clone)]
pub struct Export {
    /// The project.
    pub project_id: i64,
    /// Which sessions.
    pub filter: ListFilter,
    /// How they are written.
    pub format: Format,
    /// CSV only: every point name over the export, in order ([`point_names_page`]).
    pub columns: Vec<String>,
}

/// One page of an export.
#[derive(Debug)]
pub struct Page {
    /// The page's text: whole lines or rows.
    pub text: String,
    /// Sessions in it.
    pub sessions: usize,
    /// Where the next page starts; `None` after the last.
    pub next: Option<Position>,
}

impl Export {
    /// The text before the first page: the CSV header line, nothing for NDJSON.
    pub fn head(&self) -> Option<String> {
        (self.format == Format::Csv).then(|| {
            csv_line(
                FIXED
                    .iter()
                    .copied()
                    .chain(self.columns.iter().map(String::as_str)),
            )
        })
    }

    /// The page of sessions strictly after `after` (from the newest when `None`).
    pub fn page(
        &self,
        conn: &mut PgConnection,
        after: Option<Position>,
    ) -> Result<Page, StoreError> {
        let (views, next) = list_sessions(conn, self.project_id, &self.filter, after, PAGE)?;
        let sessions = views.len();
        let text = match self.format {
            Format::Csv => views
                .iter()
                .map(|view| csv_row(view, self.project_id, &self.columns))
                .collect::<String>(),
            Format::Ndjson => {
                let uuids: Vec<String> = views.iter().map(|view| view.uuid.clone()).collect();
                let files = file_bytes(conn, self.project_id, &uuids)?;
                ndjson(views, files)
            }
        };
        Ok(Page {
            text,
            sessions,
            next,
        })
    }
}

/// The point names of one page of the export's sessions (the CSV's first pass: memory grows
/// with the names, not with the sessions), and where the next page starts.
pub fn point_names_page(
    conn: &mut PgConnection,
    project_id: i64,
    filter: &ListFilter,
    after: Option<Position>,
) -> Result<(BTreeSet<String>, Option<Position>), StoreError> {
    let (views, next) = list_sessions(conn, project_id, filter, after, PAGE)?;
    let names = views.into_iter().flat_map(|view| view.data.into_keys());
    Ok((names.collect(), next))
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
