//! Purge: hard-deleting a project's sessions in short batches while the pipeline runs.
//!
//! A purged session keeps its row as a tombstone (`purged_at` set): its points, attachments
//! and stamps of single registers are gone, and its create stamp becomes the newest stamp it
//! held ([`crate::ordering::Stamps::newest`]). Every upload the session had seen is at most
//! that old, so one that arrives again changes nothing, while a create accepted later
//! replaces the tombstone through the ordinary write path (docs/ORDERING.md).
//!
//! Each batch is one short transaction that locks its rows with `SKIP LOCKED`: a row a
//! consumer is writing is left for a later pass instead of waited for, and a consumer that
//! meets a row being purged waits only for that batch.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Timestamptz};
use uuid::Uuid;

use super::StoreError;
use super::stamps::StampColumns;

/// Which live sessions of a project a purge takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Soft-deleted sessions; with a time, those deleted before it (by the delete's
    /// acceptance time).
    Deleted(Option<DateTime<Utc>>),
    /// Sessions received (created) before this time, deleted or not.
    ReceivedBefore(DateTime<Utc>),
}

impl Selection {
    /// The SQL condition on `s`, with `$1` the project and `$2` the time bound. It names
    /// `is_deleted` and `purged_at IS NULL` literally so the partial index serves it.
    fn condition(self) -> &'static str {
        match self {
            Self::Deleted(_) => {
                "s.project_id = $1 AND s.is_deleted AND s.purged_at IS NULL AND NOT s.placeholder
                 AND COALESCE(to_timestamp((s.field_stamps->'is_deleted'->>0)::float8 / 1e6),
                              s.received) < $2"
            }
            Self::ReceivedBefore(_) => {
                "s.project_id = $1 AND s.purged_at IS NULL AND NOT s.placeholder AND s.received < $2"
            }
        }
    }

    fn bound(self) -> DateTime<Utc> {
        match self {
            Self::Deleted(before) => before.unwrap_or(DateTime::<Utc>::MAX_UTC),
            Self::ReceivedBefore(before) => before,
        }
    }
}

/// Sessions and the attachments that went (or would go) with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Tally {
    /// Sessions.
    #[diesel(sql_type = BigInt)]
    pub sessions: i64,
    /// Their attachment rows.
    #[diesel(sql_type = BigInt)]
    pub attachments: i64,
    /// The attachments' bytes.
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.sessions += other.sessions;
        self.attachments += other.attachments;
        self.bytes += other.bytes;
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(embed)]
    stamped: StampColumns,
}

#[derive(QueryableByName)]
struct Removed {
    #[diesel(sql_type = BigInt)]
    attachments: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

const REMOVE_ATTACHMENTS: &str = "\
WITH gone AS (DELETE FROM attachments WHERE project_id = $1 AND session_id = ANY($2)
              RETURNING size)
SELECT count(*) AS attachments, COALESCE(sum(size), 0)::int8 AS bytes FROM gone";

const LEAVE_TOMBSTONES: &str = "\
UPDATE sessions AS s SET
  purged_at = now(), received = i.received, upload_id = i.upload_id, received_from = '',
  unit_id = '', created = 'epoch', saved = 'epoch', is_deleted = true, points = '{}',
  timezone_offset = NULL, field_stamps = '{}', point_stamps = '{}'
FROM unnest($2::int8[], $3::timestamptz[], $4::uuid[]) AS i(id, received, upload_id)
WHERE s.project_id = $1 AND s.id = i.id";

/// What a purge of `selection` would take now.
pub fn count(
    conn: &mut PgConnection,
    project_id: i64,
    selection: Selection,
) -> Result<Tally, StoreError> {
    let query = format!(
        "SELECT count(*) AS sessions, COALESCE(sum(a.n), 0)::int8 AS attachments,
                COALESCE(sum(a.bytes), 0)::int8 AS bytes
         FROM sessions AS s
         LEFT JOIN LATERAL (SELECT count(*) AS n, sum(size) AS bytes FROM attachments
                            WHERE project_id = s.project_id AND session_id = s.id) AS a ON true
         WHERE {}",
        selection.condition()
    );
    Ok(diesel::sql_query(query)
        .bind::<BigInt, _>(project_id)
        .bind::<Timestamptz, _>(selection.bound())
        .get_result(conn)?)
}

/// The next `limit` sessions `selection` takes with an id above `after`, in id order,
/// without locking them.
pub fn candidates(
    conn: &mut PgConnection,
    project_id: i64,
    selection: Selection,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let query = format!(
        "SELECT s.id FROM sessions AS s WHERE {} AND s.id > $3 ORDER BY s.id LIMIT $4",
        selection.condition()
    );
    let rows: Vec<Id> = diesel::sql_query(query)
        .bind::<BigInt, _>(project_id)
        .bind::<Timestamptz, _>(selection.bound())
        .bind::<BigInt, _>(after)
        .bind::<BigInt, _>(limit)
        .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Of `ids`, those `selection` still takes (a consumer may have written them meanwhile).
pub fn still_selected(
    conn: &mut PgConnection,
    project_id: i64,
    selection: Selection,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let query = format!(
        "SELECT s.id FROM sessions AS s WHERE {} AND s.id = ANY($3) ORDER BY s.id",
        selection.condition()
    );
    let rows: Vec<Id> = diesel::sql_query(query)
        .bind::<BigInt, _>(project_id)
        .bind::<Timestamptz, _>(selection.bound())
        .bind::<Array<BigInt>, _>(ids)
        .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Purges those of `ids` that `selection` still takes and no one else holds, in one
/// transaction; returns the ids purged and what went with them.
pub fn purge_batch(
    conn: &mut PgConnection,
    project_id: i64,
    selection: Selection,
    ids: &[i64],
) -> Result<(Vec<i64>, Tally), StoreError> {
    let lock = format!(
        "SELECT s.id, s.placeholder, s.received, s.upload_id, s.field_stamps, s.point_stamps
         FROM sessions AS s WHERE {} AND s.id = ANY($3)
         ORDER BY s.id FOR UPDATE SKIP LOCKED",
        selection.condition()
    );
    conn.transaction(|conn| {
        let rows: Vec<Locked> = diesel::sql_query(lock)
            .bind::<BigInt, _>(project_id)
            .bind::<Timestamptz, _>(selection.bound())
            .bind::<Array<BigInt>, _>(ids)
            .load(conn)?;
        let (mut purged, mut received, mut upload_ids) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let newest: Option<(DateTime<Utc>, Uuid)> = row
                .stamped
                .stamps()?
                .newest()
                .map(|order| (order.received(), order.1));
            // A live row always has its create stamp; keep the row's own if it did not.
            let (at, upload_id) = newest.unwrap_or((row.stamped.received, row.stamped.upload_id));
            purged.push(row.id);
            received.push(at);
            upload_ids.push(upload_id);
        }
        if purged.is_empty() {
            return Ok((purged, Tally::default()));
        }
        let removed: Removed = diesel::sql_query(REMOVE_ATTACHMENTS)
            .bind::<BigInt, _>(project_id)
            .bind::<Array<BigInt>, _>(&purged)
            .get_result(conn)?;
        diesel::sql_query(LEAVE_TOMBSTONES)
            .bind::<BigInt, _>(project_id)
            .bind::<Array<BigInt>, _>(&purged)
            .bind::<Array<Timestamptz>, _>(received)
            .bind::<Array<diesel::sql_types::Uuid>, _>(upload_ids)
            .execute(conn)?;
        let tally = Tally {
            sessions: i64::try_from(purged.len()).unwrap_or(i64::MAX),
            attachments: removed.attachments,
            bytes: removed.bytes,
        };
        Ok((purged, tally))
    })
}

/// How many tombstones of the project were left before `before`.
pub fn count_tombstones(
    conn: &mut PgConnection,
    project_id: i64,
    before: DateTime<Utc>,
) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        count: i64,
    }
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS count FROM sessions
         WHERE project_id = $1 AND purged_at IS NOT NULL AND purged_at < $2",
    )
    .bind::<BigInt, _>(project_id)
    .bind::<Timestamptz, _>(before)
    .get_result(conn)?;
    Ok(row.count)
}

/// Tombstones of the project purged before `before`: the next `limit` above `after`, or
/// those among `among`.
pub fn tombstone_ids(
    conn: &mut PgConnection,
    project_id: i64,
    before: DateTime<Utc>,
    among: Option<&[i64]>,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT id FROM sessions
         WHERE project_id = $1 AND purged_at IS NOT NULL AND purged_at < $2
           AND ($3::int8[] IS NULL OR id = ANY($3)) AND id > $4
         ORDER BY id LIMIT $5",
    )
    .bind::<BigInt, _>(project_id)
    .bind::<Timestamptz, _>(before)
    .bind::<diesel::sql_types::Nullable<Array<BigInt>>, _>(among)
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(limit)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Deletes those of `ids` that are still tombstones purged before `before` and that no
/// writer holds; returns the ids deleted.
pub fn drop_tombstones(
    conn: &mut PgConnection,
    project_id: i64,
    before: DateTime<Utc>,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<Id> = diesel::sql_query(
        "DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions
           WHERE project_id = $1 AND purged_at IS NOT NULL AND purged_at < $2 AND id = ANY($3)
           FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind::<BigInt, _>(project_id)
    .bind::<Timestamptz, _>(before)
    .bind::<Array<BigInt>, _>(ids)
    .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}
