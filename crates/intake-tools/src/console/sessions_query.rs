//! The console's own reads of a project's sessions, beside the read routes' queries in
//! `intake::store`: the list with its count and keyset cursor (with "deleted only"), a
//! session's upload id and attachment descriptions, and sessions per device. Every query
//! is bound to one project, and skips placeholders and purged tombstones.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use intake::store::StoreError;

/// Which deleted sessions a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Deleted {
    /// Only live ones (the default).
    #[default]
    Exclude,
    /// Both.
    Include,
    /// Only deleted ones.
    Only,
}

/// The list's filters.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// One device.
    pub unit_id: Option<String>,
    /// Accepted at or after.
    pub since: Option<DateTime<Utc>>,
    /// Accepted at or before.
    pub until: Option<DateTime<Utc>>,
    /// Deleted ones.
    pub deleted: Deleted,
}

/// Where a page ends: the last row's acceptance time (µs) and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `received`, microseconds since the epoch.
    pub micros: i64,
    /// Row id, breaking ties.
    pub id: i64,
}

impl Cursor {
    /// The opaque text of the `after` parameter.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.micros, self.id)
    }

    /// Reads an `after` parameter.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        Some(Self {
            micros: micros.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// One row of the list.
#[derive(Debug, Clone, QueryableByName)]
pub struct ListRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    /// Session uuid.
    #[diesel(sql_type = Text)]
    pub uuid: String,
    /// Device.
    #[diesel(sql_type = Text)]
    pub unit_id: String,
    /// Acceptance time.
    #[diesel(sql_type = Timestamptz)]
    pub received: DateTime<Utc>,
    /// Saved on the device.
    #[diesel(sql_type = Timestamptz)]
    pub saved: DateTime<Utc>,
    /// Soft-deleted.
    #[diesel(sql_type = Bool)]
    pub is_deleted: bool,
}

const WHERE: &str = "project_id = $1 AND NOT placeholder AND purged_at IS NULL
  AND ($2::text IS NULL OR unit_id = $2)
  AND ($3::timestamptz IS NULL OR received >= $3)
  AND ($4::timestamptz IS NULL OR received <= $4)
  AND ($5::bool IS NULL OR is_deleted = $5)";

fn deleted_param(deleted: Deleted) -> Option<bool> {
    match deleted {
        Deleted::Exclude => Some(false),
        Deleted::Include => None,
        Deleted::Only => Some(true),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many sessions match.
pub fn count(
    conn: &mut PgConnection,
    project_id: i64,
    filters: &Filters,
) -> Result<i64, StoreError> {
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM sessions WHERE {WHERE}"))
        .bind::<BigInt, _>(project_id)
        .bind::<Nullable<Text>, _>(filters.unit_id.clone())
        .bind::<Nullable<Timestamptz>, _>(filters.since)
        .bind::<Nullable<Timestamptz>, _>(filters.until)
        .bind::<Nullable<Bool>, _>(deleted_param(filters.deleted))
        .get_result(conn)?;
    Ok(row.n)
}

/// A page of matching sessions, newest accepted first, strictly after `after`; and the
/// cursor of the next page when there is one.
pub fn page(
    conn: &mut PgConnection,
    project_id: i64,
    filters: &Filters,
    after: Option<Cursor>,
    size: i64,
) -> Result<(Vec<ListRow>, Option<Cursor>), StoreError> {
    let after_at = after.and_then(|c| DateTime::<Utc>::from_timestamp_micros(c.micros));
    let mut rows: Vec<ListRow> = diesel::sql_query(format!(
        "SELECT id, uuid, unit_id, received, saved, is_deleted FROM sessions WHERE {WHERE}
           AND ($6::timestamptz IS NULL OR (received, id) < ($6, $7))
         ORDER BY received DESC, id DESC LIMIT $8"
    ))
    .bind::<BigInt, _>(project_id)
    .bind::<Nullable<Text>, _>(filters.unit_id.clone())
    .bind::<Nullable<Timestamptz>, _>(filters.since)
    .bind::<Nullable<Timestamptz>, _>(filters.until)
    .bind::<Nullable<Bool>, _>(deleted_param(filters.deleted))
    .bind::<Nullable<Timestamptz>, _>(after_at)
    .bind::<BigInt, _>(after.map_or(0, |c| c.id))
    .bind::<BigInt, _>(size.saturating_add(1))
    .load(conn)?;
    let more = rows.len() as i64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(0));
    let next = rows.last().filter(|_| more).map(|row| Cursor {
        micros: row.received.timestamp_micros(),
        id: row.id,
    });
    Ok((rows, next))
}

/// What the session page shows beside the read view.
#[derive(Debug, Clone, QueryableByName)]
pub struct SessionFacts {
    #[diesel(sql_type = BigInt)]
    id: i64,
    /// The upload the row's create came in.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub upload_id: uuid::Uuid,
    /// Its acceptance time.
    #[diesel(sql_type = Timestamptz)]
    pub received: DateTime<Utc>,
    /// Where it came from.
    #[diesel(sql_type = Text)]
    pub received_from: String,
    /// When a later create last replaced the stored session, if one did.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub replaced_at: Option<DateTime<Utc>>,
}

/// One attachment's description (and the first bytes of an embedded one, for its type).
#[derive(Debug, Clone, QueryableByName)]
pub struct AttachmentInfo {
    /// The point.
    #[diesel(sql_type = Text)]
    pub point: String,
    /// A `rawData` rather than a file.
    #[diesel(sql_type = Bool)]
    pub embedded: bool,
    /// The file name.
    #[diesel(sql_type = Nullable<Text>)]
    pub filename: Option<String>,
    /// The stored content type.
    #[diesel(sql_type = Text)]
    pub content_type: String,
    /// Bytes.
    #[diesel(sql_type = BigInt)]
    pub size: i64,
    /// MD5.
    #[diesel(sql_type = diesel::sql_types::Binary)]
    pub md5: Vec<u8>,
    /// The first 16 bytes.
    #[diesel(sql_type = diesel::sql_types::Binary)]
    pub head: Vec<u8>,
}

/// The facts and attachments of one session (deleted ones included).
pub fn facts(
    conn: &mut PgConnection,
    project_id: i64,
    uuid: &str,
) -> Result<Option<(SessionFacts, Vec<AttachmentInfo>)>, StoreError> {
    let found: Option<SessionFacts> = diesel::sql_query(
        "SELECT id, upload_id, received, received_from, replaced_at FROM sessions
         WHERE project_id = $1 AND uuid = $2 AND NOT placeholder AND purged_at IS NULL",
    )
    .bind::<BigInt, _>(project_id)
    .bind::<Text, _>(uuid)
    .get_result(conn)
    .optional()?;
    let Some(facts) = found else {
        return Ok(None);
    };
    let attachments = diesel::sql_query(
        "SELECT point, embedded, filename, content_type, size, md5,
                substring(bytes FROM 1 FOR 16) AS head
         FROM attachments WHERE project_id = $1 AND session_id = $2 ORDER BY point",
    )
    .bind::<BigInt, _>(project_id)
    .bind::<BigInt, _>(facts.id)
    .load(conn)?;
    Ok(Some((facts, attachments)))
}

#[derive(QueryableByName)]
struct DeviceCount {
    #[diesel(sql_type = BigInt)]
    project_id: i64,
    #[diesel(sql_type = Text)]
    unit_id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A device: project and unit id.
pub type DeviceKey = (i64, String);

/// Sessions per device of the given projects.
pub fn device_counts(
    conn: &mut PgConnection,
    projects: &[i64],
) -> Result<HashMap<DeviceKey, i64>, StoreError> {
    let rows: Vec<DeviceCount> = diesel::sql_query(
        "SELECT project_id, unit_id, count(*) AS n FROM sessions
         WHERE project_id = ANY($1) AND NOT placeholder AND purged_at IS NULL
         GROUP BY project_id, unit_id",
    )
    .bind::<diesel::sql_types::Array<BigInt>, _>(projects)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.project_id, row.unit_id), row.n))
        .collect())
}
