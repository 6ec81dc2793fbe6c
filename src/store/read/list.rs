//! A page of the newest-first list: its filters, its position, and its size bound.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::{SqlLiteral, UncheckedBind};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};

use super::{SessionRow, assemble, not_deleted, unix};
use crate::store::StoreError;
use crate::store::schema::sessions;
use crate::view::SessionView;

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
/// About how many bytes of sessions one list page holds (their points as JSON text, embedded
/// binaries as base64), whatever `limit` says: the rest follows on the next page. Eight
/// 30 MiB sessions in one page once took the front from 330 to 1,079 MiB. A page always
/// holds at least one session.
pub const MAX_PAGE_BYTES: i64 = 8 << 20;

/// [`read_size`]'s SQL with its bound project.
type ReadSize =
    SqlLiteral<BigInt, UncheckedBind<SqlLiteral<BigInt>, diesel::dsl::AsExprOf<i64, BigInt>>>;

/// The size a session takes in a read: its points as JSON text, plus its embedded binaries
/// as base64 (4/3 of their bytes). File attachments are described, not included. The project
/// is bound, not taken from the row, so a partitioned `attachments` is pruned to one
/// partition when the query is planned.
fn read_size(project_id: i64) -> ReadSize {
    sql::<BigInt>(
        "octet_length(sessions.points::text)::int8 + coalesce((\
         SELECT sum(a.size) FROM attachments a WHERE a.project_id = ",
    )
    .bind::<BigInt, _>(project_id)
    .sql(" AND a.session_id = sessions.id AND a.embedded), 0)::int8 * 4 / 3")
}

/// The list query: each candidate row's id, receive time and read size, boxed because its
/// filters depend on the request.
pub(in crate::store) type ListQuery =
    sessions::BoxedQuery<'static, Pg, (BigInt, Timestamptz, BigInt)>;

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
        .filter(sessions::project_id.eq(project_id))
        .filter(sessions::id.eq_any(&ids))
        .select(SessionRow::as_select())
        .order_by((sessions::received.desc(), sessions::id.desc()))
        .load(conn)?;
    Ok((assemble(conn, project_id, rows)?, next))
}

/// One row more than the page, so the caller knows whether another page follows.
pub(in crate::store) fn list_query(
    project_id: i64,
    filter: &ListFilter,
    after: Option<Position>,
    limit: i64,
) -> ListQuery {
    let mut query = sessions::table
        .filter(sessions::project_id.eq(project_id))
        .filter(sessions::placeholder.eq(false))
        .filter(sessions::purged_at.is_null())
        .select((sessions::id, sessions::received, read_size(project_id)))
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
