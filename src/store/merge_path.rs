//! The merge path of a batch: updates, deletes, attachment changes, and the rare creates that
//! meet a row carrying stamps of such writes (or a placeholder). Set-based like the create
//! path — a fixed handful of statements per batch, whatever its size: make sure every row
//! exists, lock them all in one query, merge in memory ([`crate::ordering::merge`]), write back with
//! one `UPDATE … FROM unnest`, one attachment `DELETE` and one `INSERT`.

mod write_back;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Text, Timestamptz};

use self::write_back::write_back;
use super::StoreError;
use super::attachments::{AttachmentColumns, insert_attachments};
use super::keys::{RowKey, bind_keys};
use super::stamps::StampColumns;
use crate::ordering::merge::{Point, State};
use crate::wire::Upload;

/// Writes of one batch by session key, in batch positions.
pub(super) type Pending<'a> = BTreeMap<(i64, &'a str), Vec<(usize, &'a Upload)>>;

const ENSURE_ROWS: &str = "\
INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                      upload_id, is_deleted, points, placeholder)
SELECT project_id, uuid, '', 'epoch', 'epoch', received, '', upload_id, false, '{}', true
FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $4::uuid[])
  AS i(project_id, uuid, received, upload_id)
ON CONFLICT (project_id, uuid) DO NOTHING";

const ROW_COLUMNS: &str = "s.id, s.project_id, s.uuid, s.placeholder, s.received, s.upload_id,
  s.received_from, s.unit_id, s.created, s.saved, s.is_deleted, s.points, s.field_stamps,
  s.point_stamps";

const DELETE_ATTACHMENTS: &str = "\
DELETE FROM attachments AS a
USING unnest($1::int8[], $2::int8[], $3::text[]) AS d(project_id, session_id, point)
WHERE a.project_id = d.project_id AND a.session_id = d.session_id AND a.point = d.point";

const BINARY_POINTS: &str = "\
SELECT a.project_id, a.session_id, a.point FROM attachments AS a
JOIN unnest($1::int8[], $2::int8[]) AS k(project_id, session_id)
  ON a.project_id = k.project_id AND a.session_id = k.session_id";

/// A session row with everything the merge needs (no attachment bytes).
#[derive(QueryableByName)]
struct Row {
    #[diesel(embed)]
    key: RowKey,
    #[diesel(embed)]
    stamped: StampColumns,
    #[diesel(sql_type = Text)]
    received_from: String,
    #[diesel(sql_type = Text)]
    unit_id: String,
    #[diesel(sql_type = Timestamptz)]
    created: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    saved: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    is_deleted: bool,
    #[diesel(sql_type = Jsonb)]
    points: serde_json::Value,
}

#[derive(QueryableByName)]
struct BinaryPoint {
    #[diesel(sql_type = BigInt)]
    project_id: i64,
    #[diesel(sql_type = BigInt)]
    session_id: i64,
    #[diesel(sql_type = Text)]
    point: String,
}

impl Row {
    /// The row's primary key: (project id, id).
    fn id(&self) -> (i64, i64) {
        (self.key.key.project_id, self.key.id)
    }

    fn state(&self, binaries: &[String]) -> Result<State, StoreError> {
        let mut points: BTreeMap<String, Point> = match &self.points {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(name, value)| {
                    let text = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    (name.clone(), Point::Text(text))
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        for name in binaries {
            points.insert(name.clone(), Point::Stored);
        }
        Ok(State {
            stamps: self.stamped.stamps()?,
            received_from: self.received_from.clone(),
            unit_id: self.unit_id.clone(),
            created: self.created.timestamp(),
            saved: self.saved.timestamp(),
            is_deleted: self.is_deleted,
            points,
        })
    }
}

/// Applies the pending writes; returns the batch positions of the writes that changed
/// something.
pub(super) fn apply(
    conn: &mut PgConnection,
    pending: &Pending<'_>,
) -> Result<Vec<usize>, StoreError> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    ensure_rows(conn, pending)?;
    let rows = lock_rows(conn, pending)?;
    let binaries = binary_points(conn, &rows)?;
    let mut stored = Vec::new();
    let mut merged: Vec<(&Row, State)> = Vec::new();
    let mut removed = (Vec::new(), Vec::new(), Vec::new());
    for row in &rows {
        let Some(writes) = pending.get(&row.key.key.as_key()) else {
            continue;
        };
        let names = binaries.get(&row.id()).map_or(&[][..], Vec::as_slice);
        let mut state = row.state(names)?;
        let mut changed = false;
        for (position, upload) in writes {
            if state.apply(&upload.operation, &upload.stamp) {
                stored.push(*position);
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        for name in names {
            if state.points.get(name) != Some(&Point::Stored) {
                removed.0.push(row.key.key.project_id);
                removed.1.push(row.key.id);
                removed.2.push(name.clone());
            }
        }
        merged.push((row, state));
    }
    write_back(conn, &merged)?;
    if !removed.0.is_empty() {
        diesel::sql_query(DELETE_ATTACHMENTS)
            .bind::<Array<BigInt>, _>(removed.0)
            .bind::<Array<BigInt>, _>(removed.1)
            .bind::<Array<Text>, _>(removed.2)
            .execute(conn)?;
    }
    let mut columns = AttachmentColumns::default();
    for (row, state) in &merged {
        for (name, point) in &state.points {
            if let Point::New(value) = point {
                columns.push(row.id(), name, value);
            }
        }
    }
    insert_attachments(conn, columns)?;
    Ok(stored)
}

/// Inserts a placeholder for every key without a row, so all of them can be locked.
fn ensure_rows(conn: &mut PgConnection, pending: &Pending<'_>) -> Result<(), StoreError> {
    let (mut keys, mut columns) = (Vec::new(), (Vec::new(), Vec::new()));
    for (key, writes) in pending {
        let Some(first) = writes
            .iter()
            .map(|(_, upload)| &upload.stamp)
            .min_by_key(|s| s.order())
        else {
            continue;
        };
        keys.push(*key);
        columns.0.push(first.received());
        columns.1.push(first.upload_id);
    }
    bind_keys(ENSURE_ROWS, keys)
        .bind::<Array<Timestamptz>, _>(columns.0)
        .bind::<Array<diesel::sql_types::Uuid>, _>(columns.1)
        .execute(conn)?;
    Ok(())
}

/// Locks the rows in one global order (byte order of the key, as the create path), so
/// concurrent batches queue behind each other instead of deadlocking where they can.
fn lock_rows(conn: &mut PgConnection, pending: &Pending<'_>) -> Result<Vec<Row>, StoreError> {
    let query = format!(
        "SELECT {ROW_COLUMNS} FROM sessions AS s
         JOIN unnest($1::int8[], $2::text[]) AS k(project_id, uuid)
           ON s.project_id = k.project_id AND s.uuid = k.uuid
         ORDER BY s.project_id, s.uuid COLLATE \"C\"
         FOR UPDATE OF s"
    );
    Ok(bind_keys(&query, pending.keys().copied()).load(conn)?)
}

/// The names of the binary points each row already has, by (project id, id).
fn binary_points(
    conn: &mut PgConnection,
    rows: &[Row],
) -> Result<HashMap<(i64, i64), Vec<String>>, StoreError> {
    let (projects, ids): (Vec<i64>, Vec<i64>) = rows.iter().map(Row::id).unzip();
    let found: Vec<BinaryPoint> = diesel::sql_query(BINARY_POINTS)
        .bind::<Array<BigInt>, _>(projects)
        .bind::<Array<BigInt>, _>(ids)
        .load(conn)?;
    let mut names: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    for point in found {
        names
            .entry((point.project_id, point.session_id))
            .or_default()
            .push(point.point);
    }
    Ok(names)
}
