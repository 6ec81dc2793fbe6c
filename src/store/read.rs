//! The queries behind the read routes: one session, a page of sessions, one attachment's
//! bytes. Every query is scoped by project, so a uuid of another project is simply
//! not found, and skips placeholders (rows of writes whose create has not arrived). File
//! bytes are never loaded for a session read, only their description.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::dsl::{InnerJoinQuerySource, case_when, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};

use super::StoreError;
use super::schema::{attachments, sessions};
use crate::session::encode_base64;
use crate::view::{PointView, SessionView, Time};

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

/// Where a page of the newest-first list ends: the last row's receive time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Receive time, microseconds since the epoch.
    pub received_micros: i64,
    /// Row id, which breaks ties between equal receive times.
    pub id: i64,
}

/// The filters of the list route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only sessions of this device.
    pub unit_id: Option<String>,
    /// Only sessions received at or after this unix second.
    pub since: Option<i64>,
    /// Only sessions received at or before this unix second (the whole second).
    pub until: Option<i64>,
    /// Show soft-deleted sessions too.
    pub include_deleted: bool,
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
        .filter(sessions::uuid.eq(uuid))
        .select(SessionRow::as_select())
        .into_boxed();
    if !include_deleted {
        query = query.filter(not_deleted());
    }
    let Some(row) = query.first(conn).optional()? else {
        return Ok(None);
    };
    let mut views = assemble(conn, vec![row])?;
    Ok(views.pop())
}

/// About how many bytes of sessions one list page holds (their points as JSON text, embedded
/// binaries as base64), whatever `limit` says: the rest follows on the next page. Eight
/// 30 MiB sessions in one page once took the front from 330 to 1,079 MiB. A page always
/// holds at least one session.
pub const MAX_PAGE_BYTES: i64 = 8 << 20;

/// The size a session takes in a read: its points as JSON text, plus its embedded binaries
/// as base64 (4/3 of their bytes). File attachments are described, not included.
const READ_SIZE: &str = "octet_length(sessions.points::text)::int8 + coalesce((\
     SELECT sum(a.size) FROM attachments a WHERE a.session_id = sessions.id AND a.embedded\
     ), 0)::int8 * 4 / 3";

/// The list query: each candidate row's id, receive time and read size, boxed because its
/// filters depend on the request.
pub(super) type ListQuery = sessions::BoxedQuery<'static, Pg, (BigInt, Timestamptz, BigInt)>;

/// A page of a project's sessions, newest received first, strictly after `after`: at most
/// `limit` sessions and, past the first, at most [`MAX_PAGE_BYTES`]. Returns the page and,
/// when more rows may follow, the position to continue from.
pub fn list_sessions(
    conn: &mut PgConnection,
    project_id: i64,
    filter: &ListFilter,
    after: Option<Position>,
    limit: i64,
) -> Result<(Vec<SessionView>, Option<Position>), StoreError> {
    // Sizes first, rows second: only the rows that fit the page are ever loaded.
    let candidates: Vec<(i64, DateTime<Utc>, i64)> =
        list_query(project_id, filter, after, limit).load(conn)?;
    let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut bytes = 0_i64;
    let taken = candidates
        .iter()
        .take(wanted)
        .enumerate()
        .take_while(|(index, (_, _, size))| {
            bytes = bytes.saturating_add(*size);
            *index == 0 || bytes <= MAX_PAGE_BYTES
        })
        .count();
    let next = (candidates.len() > taken)
        .then(|| taken.checked_sub(1).and_then(|last| candidates.get(last)))
        .flatten()
        .map(|(id, received, _)| Position {
            received_micros: received.timestamp_micros(),
            id: *id,
        });
    let ids: Vec<i64> = candidates[..taken].iter().map(|(id, _, _)| *id).collect();
    let rows: Vec<SessionRow> = sessions::table
        .filter(sessions::id.eq_any(&ids))
        .select(SessionRow::as_select())
        .order_by((sessions::received.desc(), sessions::id.desc()))
        .load(conn)?;
    Ok((assemble(conn, rows)?, next))
}

/// One row more than the page, so the caller knows whether another page follows.
pub(super) fn list_query(
    project_id: i64,
    filter: &ListFilter,
    after: Option<Position>,
    limit: i64,
) -> ListQuery {
    let mut query = sessions::table
        .filter(sessions::project_id.eq(project_id))
        .filter(sessions::placeholder.eq(false))
        .select((sessions::id, sessions::received, sql::<BigInt>(READ_SIZE)))
        .order_by((sessions::received.desc(), sessions::id.desc()))
        .limit(limit.saturating_add(1))
        .into_boxed();
    if !filter.include_deleted {
        query = query.filter(not_deleted());
    }
    if let Some(unit_id) = &filter.unit_id {
        query = query.filter(sessions::unit_id.eq(unit_id.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(sessions::received.ge(unix(since)));
    }
    if let Some(until) = filter.until {
        query = query.filter(sessions::received.lt(unix(until.saturating_add(1))));
    }
    if let Some(after) = after {
        let received = DateTime::from_timestamp_micros(after.received_micros).unwrap_or_default();
        // A row comparison, so the (project_id, received DESC, id DESC) index serves it.
        query = query.filter(
            sql::<Bool>("(sessions.received, sessions.id) < (")
                .bind::<Timestamptz, _>(received)
                .sql(", ")
                .bind::<BigInt, _>(after.id)
                .sql(")"),
        );
    }
    query
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
        .inner_join(sessions::table)
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
) -> Box<
    dyn BoxableExpression<
            InnerJoinQuerySource<attachments::table, sessions::table>,
            Pg,
            SqlType = Bool,
        > + 'a,
> {
    let visible = sessions::project_id
        .eq(project_id)
        .and(sessions::placeholder.eq(false))
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
        .inner_join(sessions::table)
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

/// Turns rows into views, loading the attachment descriptions of all of them in one query.
fn assemble(
    conn: &mut PgConnection,
    rows: Vec<SessionRow>,
) -> Result<Vec<SessionView>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let metas: Vec<AttachmentMeta> = attachments::table
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
