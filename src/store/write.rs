//! The batch write: many uploads, one transaction, a handful of set-based statements.
//!
//! A session row is replaced only by an upload accepted later than the one it holds:
//! `(received, upload_id)` decides, not the order in which consumers get to the messages.
//! A redelivered or replayed upload compares equal (or older) and changes nothing.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use uuid::Uuid;

use super::StoreError;
use crate::session::{PointValue, Session};
use crate::wire::Upload;

/// What one batch did, by position in the batch. Every other upload was superseded: older
/// than (or equal to) what its row already holds, as redeliveries and replays are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Uploads now held by their session row (inserted, or replacing an older upload).
    pub stored: Vec<usize>,
    /// Uploads whose project does not exist; nothing was written for them.
    pub unknown_project: Vec<usize>,
}

const UPSERT_SESSIONS: &str = "\
INSERT INTO sessions AS s (project_id, uuid, unit_id, created, saved, received, received_from,
                           upload_id, is_deleted, points, timezone_offset)
SELECT project_id, uuid, unit_id, created, saved, received, received_from, upload_id, false,
       points, timezone_offset
FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
            $6::timestamptz[], $7::text[], $8::uuid[], $9::jsonb[], $10::int4[])
  AS i(project_id, uuid, unit_id, created, saved, received, received_from, upload_id, points,
       timezone_offset)
ON CONFLICT (project_id, uuid) DO UPDATE SET
  unit_id = EXCLUDED.unit_id, created = EXCLUDED.created, saved = EXCLUDED.saved,
  received = EXCLUDED.received, received_from = EXCLUDED.received_from,
  upload_id = EXCLUDED.upload_id, is_deleted = false, points = EXCLUDED.points,
  timezone_offset = EXCLUDED.timezone_offset
WHERE (s.received, s.upload_id) < (EXCLUDED.received, EXCLUDED.upload_id)
RETURNING id, project_id, uuid";

const INSERT_ATTACHMENTS: &str = "\
INSERT INTO attachments (session_id, point, embedded, filename, content_type, size, md5, sha256,
                         bytes)
SELECT * FROM unnest($1::int8[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::int8[],
                     $7::bytea[], $8::bytea[], $9::bytea[])";

const UPSERT_DEVICES: &str = "\
INSERT INTO devices AS d (project_id, unit_id, first_seen, last_seen)
SELECT project_id, unit_id, seen, seen
FROM unnest($1::int8[], $2::text[], $3::timestamptz[]) AS i(project_id, unit_id, seen)
ON CONFLICT (project_id, unit_id) DO UPDATE SET
  first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)";

#[derive(QueryableByName)]
struct WrittenRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    project_id: i64,
    #[diesel(sql_type = Text)]
    uuid: String,
}

#[derive(QueryableByName)]
struct ProjectRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

type Key<'a> = (i64, &'a str);

/// Writes a batch of checked uploads in one transaction.
pub fn write_batch(
    conn: &mut PgConnection,
    uploads: &[Upload],
) -> Result<BatchOutcome, StoreError> {
    conn.transaction(|conn| {
        let known = known_projects(conn, uploads)?;
        let mut outcome = BatchOutcome::default();
        // The newest upload per session key; sorted keys lock rows in one global order, so
        // concurrent batches cannot deadlock on each other.
        let mut newest: BTreeMap<Key<'_>, (usize, &Upload)> = BTreeMap::new();
        for (position, upload) in uploads.iter().enumerate() {
            if !known.contains(&upload.project_id) {
                outcome.unknown_project.push(position);
                continue;
            }
            let key = (upload.project_id, upload.session().uuid.as_str());
            let entry = newest.entry(key).or_insert((position, upload));
            if order(upload) > order(entry.1) {
                *entry = (position, upload);
            }
        }
        let winners = upsert_sessions(conn, &newest)?;
        replace_attachments(conn, &newest, &winners)?;
        record_devices(conn, uploads, &known)?;
        outcome.stored = newest
            .iter()
            .filter(|((project_id, uuid), _)| {
                winners.contains_key(&(*project_id, (*uuid).to_owned()))
            })
            .map(|(_, (position, _))| *position)
            .collect();
        Ok(outcome)
    })
}

fn order(upload: &Upload) -> (i64, Uuid) {
    (upload.stamp.received_micros, upload.stamp.upload_id)
}

fn received(upload: &Upload) -> DateTime<Utc> {
    upload.stamp.received()
}

fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn known_projects(conn: &mut PgConnection, uploads: &[Upload]) -> Result<HashSet<i64>, StoreError> {
    let mut ids: Vec<i64> = uploads.iter().map(|upload| upload.project_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<ProjectRow> = diesel::sql_query("SELECT id FROM projects WHERE id = ANY($1)")
        .bind::<Array<BigInt>, _>(ids)
        .load(conn)?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// The text points as the `points` jsonb object; binary points live in `attachments`.
fn text_points(session: &Session) -> serde_json::Value {
    let map = session
        .points
        .iter()
        .filter_map(|(name, value)| match value {
            PointValue::Text(text) => Some((name.as_str().to_owned(), text.clone().into())),
            _ => None,
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Returns the session row id of each key this batch wrote.
fn upsert_sessions(
    conn: &mut PgConnection,
    newest: &BTreeMap<Key<'_>, (usize, &Upload)>,
) -> Result<BTreeMap<(i64, String), i64>, StoreError> {
    if newest.is_empty() {
        return Ok(BTreeMap::new());
    }
    let uploads: Vec<&Upload> = newest.values().map(|(_, upload)| *upload).collect();
    let sessions: Vec<&Session> = uploads.iter().map(|upload| upload.session()).collect();
    let rows: Vec<WrittenRow> = diesel::sql_query(UPSERT_SESSIONS)
        .bind::<Array<BigInt>, _>(uploads.iter().map(|u| u.project_id).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(sessions.iter().map(|s| s.uuid.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            sessions
                .iter()
                .map(|s| s.unit_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Timestamptz>, _>(sessions.iter().map(|s| unix(s.created)).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(sessions.iter().map(|s| unix(s.saved)).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(uploads.iter().map(|u| received(u)).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            uploads
                .iter()
                .map(|u| u.stamp.received_from.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(
            uploads
                .iter()
                .map(|u| u.stamp.upload_id)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Jsonb>, _>(sessions.iter().map(|s| text_points(s)).collect::<Vec<_>>())
        .bind::<Array<Nullable<Integer>>, _>(
            sessions
                .iter()
                .map(|s| s.timezone_offset())
                .collect::<Vec<_>>(),
        )
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| ((row.project_id, row.uuid), row.id))
        .collect())
}

#[derive(Default)]
struct AttachmentColumns<'a> {
    session_id: Vec<i64>,
    point: Vec<&'a str>,
    embedded: Vec<bool>,
    filename: Vec<Option<&'a str>>,
    content_type: Vec<&'a str>,
    size: Vec<i64>,
    md5: Vec<Vec<u8>>,
    sha256: Vec<Vec<u8>>,
    bytes: Vec<&'a [u8]>,
}

/// A replaced session loses all its old attachments; the winners' new ones go in.
fn replace_attachments(
    conn: &mut PgConnection,
    newest: &BTreeMap<Key<'_>, (usize, &Upload)>,
    winners: &BTreeMap<(i64, String), i64>,
) -> Result<(), StoreError> {
    if winners.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = winners.values().copied().collect();
    diesel::sql_query("DELETE FROM attachments WHERE session_id = ANY($1)")
        .bind::<Array<BigInt>, _>(&ids)
        .execute(conn)?;
    let mut columns = AttachmentColumns::default();
    for ((project_id, uuid), (_, upload)) in newest {
        let Some(&session_id) = winners.get(&(*project_id, (*uuid).to_owned())) else {
            continue;
        };
        for (name, value) in &upload.session().points {
            let (embedded, filename, content_type, bytes) = match value {
                PointValue::Text(_) => continue,
                PointValue::Raw(bytes) => (true, None, "application/octet-stream", bytes),
                PointValue::File(file) => (
                    false,
                    file.filename.as_deref(),
                    file.content_type.as_str(),
                    &file.bytes,
                ),
            };
            columns.session_id.push(session_id);
            columns.point.push(name.as_str());
            columns.embedded.push(embedded);
            columns.filename.push(filename);
            columns.content_type.push(content_type);
            columns
                .size
                .push(i64::try_from(bytes.len()).unwrap_or(i64::MAX));
            columns.md5.push(Md5::digest(bytes).to_vec());
            columns.sha256.push(Sha256::digest(bytes).to_vec());
            columns.bytes.push(bytes);
        }
    }
    if columns.session_id.is_empty() {
        return Ok(());
    }
    diesel::sql_query(INSERT_ATTACHMENTS)
        .bind::<Array<BigInt>, _>(columns.session_id)
        .bind::<Array<Text>, _>(columns.point)
        .bind::<Array<Bool>, _>(columns.embedded)
        .bind::<Array<Nullable<Text>>, _>(columns.filename)
        .bind::<Array<Text>, _>(columns.content_type)
        .bind::<Array<BigInt>, _>(columns.size)
        .bind::<Array<Binary>, _>(columns.md5)
        .bind::<Array<Binary>, _>(columns.sha256)
        .bind::<Array<Binary>, _>(columns.bytes)
        .execute(conn)?;
    Ok(())
}

/// Every unit id in the batch was seen at its upload's receive time.
fn record_devices(
    conn: &mut PgConnection,
    uploads: &[Upload],
    known: &HashSet<i64>,
) -> Result<(), StoreError> {
    let mut seen: BTreeMap<(i64, &str), DateTime<Utc>> = BTreeMap::new();
    for upload in uploads.iter().filter(|u| known.contains(&u.project_id)) {
        let key = (upload.project_id, upload.session().unit_id.as_str());
        let at = received(upload);
        seen.entry(key)
            .and_modify(|last| *last = (*last).max(at))
            .or_insert(at);
    }
    if seen.is_empty() {
        return Ok(());
    }
    let (keys, times): (Vec<_>, Vec<_>) = seen.into_iter().unzip();
    let (projects, units): (Vec<i64>, Vec<&str>) = keys.into_iter().unzip();
    diesel::sql_query(UPSERT_DEVICES)
        .bind::<Array<BigInt>, _>(projects)
        .bind::<Array<Text>, _>(units)
        .bind::<Array<Timestamptz>, _>(times)
        .execute(conn)?;
    Ok(())
}
