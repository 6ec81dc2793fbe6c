//! The queries behind the read routes: one session, a page of sessions, one attachment's
//! bytes. Every query is scoped by project, so a uuid of another project is simply
//! not found, and skips placeholders (rows of writes whose create has not arrived) and
//! tombstones (purged sessions, `purged_at` set). File bytes are never loaded for a session
//! read, only their description.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::dsl::{InnerJoinQuerySource, case_when};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::StoreError;
use super::schema::{attachments, sessions};
use crate::session::encode_base64;
use crate::view::{PointView, SessionView, Time};

mod export;
mod list;

pub use self::export::file_bytes;

pub(super) use self::list::list_query;
pub use self::list::{ListFilter, MAX_PAGE_BYTES, Position, list_sessions};

/// The session columns a read shows.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub(super) struct SessionRow {
    id: i64,
    uuid: String,
    unit_id: String,
    created: DateTime<Utc>,
    saved: DateTime<Utc>,
    received: DateTime<Utc>,
    received_from: String,
    is_deleted: bool,
    points: serde_json::Value,
}

/// An attachment's description, with the bytes only when they are an embedded `rawData`.
#[derive(Debug, Queryable)]
struct AttachmentMeta {
    session_id: i64,
    point: String,
    filename: Option<String>,
    content_type: String,
    size: i64,
    md5: Vec<u8>,
    embedded_bytes: Option<Vec<u8>>,
}

/// One attachment's bytes, as the attachment route serves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentFile {
    /// The uploaded file name, if any.
    pub filename: Option<String>,
    /// The stored content type.
    pub content_type: String,
    /// The bytes exactly as uploaded.
    pub bytes: Vec<u8>,
}

type Visible = diesel::dsl::Eq<sessions::is_deleted, bool>;

/// The join of an attachment to its session: on the whole key, project first.
type SessionOfAttachment = diesel::dsl::And<
    diesel::dsl::Eq<sessions::project_id, attachments::project_id>,
    diesel::dsl::Eq<sessions::id, attachments::session_id>,
>;

/// Attachments joined to their sessions.
type AttachmentsWithSessions =
    InnerJoinQuerySource<attachments::table, sessions::table, SessionOfAttachment>;

fn session_of_attachment() -> SessionOfAttachment {
    sessions::project_id
        .eq(attachments::project_id)
        .and(sessions::id.eq(attachments::session_id))
}

/// Whether a row is shown: not soft-deleted, unless deleted ones were asked for.
fn not_deleted() -> Visible {
    sessions::is_deleted.eq(false)
}

/// One session of a project, or `None` if there is none (or it is deleted and
/// `include_deleted` is false).
pub fn load_session(
    conn: &mut PgConnection,
    project_id: i64,
    uuid: &str,
    include_deleted: bool,
) -> Result<Option<SessionView>, StoreError> {
    let mut query = sessions::table
        .filter(sessions::project_id.eq(project_id))
        .filter(sessions::placeholder.eq(false))
        .filter(sessions::purged_at.is_null())
        .filter(sessions::uuid.eq(uuid))
        .select(SessionRow::as_select())
        .into_boxed();
    if !include_deleted {
        query = query.filter(not_deleted());
    }
    let Some(row) = query.first(conn).optional()? else {
        return Ok(None);
    };
    let mut views = assemble(conn, project_id, vec![row])?;
    Ok(views.pop())
}

/// The bytes of one point's attachment (a file, or an embedded `rawData`).
pub fn load_attachment(
    conn: &mut PgConnection,
    project_id: i64,
    uuid: &str,
    point: &str,
    include_deleted: bool,
) -> Result<Option<AttachmentFile>, StoreError> {
    Ok(attachments::table
        .inner_join(sessions::table.on(session_of_attachment()))
        .filter(visible_point(project_id, uuid, point, include_deleted))
        .select((
            attachments::filename,
            attachments::content_type,
            attachments::bytes,
        ))
        .first::<(Option<String>, String, Vec<u8>)>(conn)
        .optional()?
        .map(|(filename, content_type, bytes)| AttachmentFile {
            filename,
            content_type,
            bytes,
        }))
}

/// The attachment rows of one point of one session a request may see.
fn visible_point<'a>(
    project_id: i64,
    uuid: &'a str,
    point: &'a str,
    include_deleted: bool,
) -> Box<dyn BoxableExpression<AttachmentsWithSessions, Pg, SqlType = Bool> + 'a> {
    let visible = attachments::project_id
        .eq(project_id)
        .and(sessions::project_id.eq(project_id))
        .and(sessions::placeholder.eq(false))
        .and(sessions::purged_at.is_null())
        .and(sessions::uuid.eq(uuid))
        .and(attachments::point.eq(point));
    if include_deleted {
        Box::new(visible)
    } else {
        Box::new(visible.and(not_deleted()))
    }
}

/// Whether the session (visible to this request) has an attachment for `point`, without
/// reading its bytes.
pub fn has_attachment(
    conn: &mut PgConnection,
    project_id: i64,
    uuid: &str,
    point: &str,
    include_deleted: bool,
) -> Result<bool, StoreError> {
    let found = attachments::table
        .inner_join(sessions::table.on(session_of_attachment()))
        .filter(visible_point(project_id, uuid, point, include_deleted))
        .select(attachments::session_id)
        .first::<i64>(conn)
        .optional()?;
    Ok(found.is_some())
}

fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(if seconds < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Turns rows of one project into views, loading the attachment descriptions of all of them
/// in one query.
fn assemble(
    conn: &mut PgConnection,
    project_id: i64,
    rows: Vec<SessionRow>,
) -> Result<Vec<SessionView>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let metas: Vec<AttachmentMeta> = attachments::table
        .filter(attachments::project_id.eq(project_id))
        .filter(attachments::session_id.eq_any(&ids))
        .select((
            attachments::session_id,
            attachments::point,
            attachments::filename,
            attachments::content_type,
            attachments::size,
            attachments::md5,
            case_when(attachments::embedded, attachments::bytes),
        ))
        .load(conn)?;
    let mut by_session: BTreeMap<i64, Vec<AttachmentMeta>> = BTreeMap::new();
    for meta in metas {
        by_session.entry(meta.session_id).or_default().push(meta);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let metas = by_session.remove(&row.id).unwrap_or_default();
            view(row, metas)
        })
        .collect())
}

fn view(row: SessionRow, metas: Vec<AttachmentMeta>) -> SessionView {
    let mut data: BTreeMap<String, PointView> = match row.points {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(name, value)| {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, PointView::Text(text))
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    for meta in metas {
        let point = match meta.embedded_bytes {
            Some(bytes) => PointView::Raw {
                raw_data: encode_base64(&bytes),
            },
            None => PointView::File {
                filename: meta.filename,
                content_type: meta.content_type,
                length: u64::try_from(meta.size).unwrap_or(0),
                md5: hex::encode(meta.md5),
            },
        };
        data.insert(meta.point, point);
    }
    SessionView {
        uuid: row.uuid,
        unit_id: row.unit_id,
        created: Time::at(row.created),
        saved: Time::at(row.saved),
        received: Time::at(row.received),
        received_from: row.received_from,
        is_deleted: row.is_deleted,
        data,
    }
}
