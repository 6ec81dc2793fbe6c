//! The batch write: many writes, one transaction, a handful of set-based statements.
//!
//! A session row is replaced only by a create accepted later than the one it holds:
//! `(received, upload_id)` decides, not the order in which consumers get to the messages.
//! A redelivered or replayed create compares equal (or older) and changes nothing.
//!
//! Creates take the fast path below: one conditional upsert for the whole batch, which
//! replaces rows that carry no stamps of later writes. Everything else — updates, deletes,
//! attachment changes, and creates meeting a row that such writes touched (or a
//! placeholder) — goes through [`super::merge_path`], which merges field by field in acceptance
//! order (docs/ORDERING.md).
//!
//! A purged session's tombstone is a row like any other to both paths: its stamp is newer
//! than every upload the session had seen, so only a create accepted later replaces it, and
//! that create lifts the tombstone ([`super::purge`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};

use super::StoreError;
use super::attachments::{AttachmentColumns, insert_attachments};
use super::devices::record_devices;
use super::keys::{Key, KeyColumns, RowKey, bind_keys, match_keys};
use super::known_projects::{KnownProjects, known_projects};
use super::merge_path::{self, Pending};
use crate::ordering::Order;
use crate::session::write::Write;
use crate::session::{PointValue, Session};
use crate::wire::Upload;

/// What one batch did, by position in the batch. Every other write was superseded: older
/// than (or equal to) what its row already holds, as redeliveries and replays are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Writes that changed their session row (a create inserted or replacing an older one,
    /// or another write that won at least one field or point), sorted.
    pub stored: Vec<usize>,
    /// Uploads whose project does not exist; nothing was written for them.
    pub unknown_project: Vec<usize>,
}

/// The conditional upsert. Each row is offered a fresh id; a row that comes back with another
/// id existed and was replaced. (`xmax <> 0` would tell the same, but a partitioned table
/// cannot return system columns.)
const UPSERT_SESSIONS: &str = "\
WITH i AS (
  SELECT nextval('sessions_id_seq') AS offered_id, *
  FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
              $6::timestamptz[], $7::text[], $8::uuid[], $9::jsonb[], $10::int4[])
    AS i(project_id, uuid, unit_id, created, saved, received, received_from, upload_id, points,
         timezone_offset)
), written AS (
  INSERT INTO sessions AS s (id, project_id, uuid, unit_id, created, saved, received,
                             received_from, upload_id, is_deleted, points, timezone_offset)
  SELECT offered_id, project_id, uuid, unit_id, created, saved, received, received_from,
         upload_id, false, points, timezone_offset
  FROM i
  ON CONFLICT (project_id, uuid) DO UPDATE SET
    unit_id = EXCLUDED.unit_id, created = EXCLUDED.created, saved = EXCLUDED.saved,
    received = EXCLUDED.received, received_from = EXCLUDED.received_from,
    upload_id = EXCLUDED.upload_id, is_deleted = false, points = EXCLUDED.points,
    timezone_offset = EXCLUDED.timezone_offset, purged_at = NULL,
    replaced_at = CASE WHEN s.purged_at IS NULL THEN EXCLUDED.received ELSE s.replaced_at END
  WHERE (s.received, s.upload_id) < (EXCLUDED.received, EXCLUDED.upload_id)
    AND NOT s.placeholder AND s.field_stamps = '{}' AND s.point_stamps = '{}'
  RETURNING s.id, s.project_id, s.uuid
)
SELECT w.id, w.project_id, w.uuid, w.id <> i.offered_id AS replaced
FROM written AS w JOIN i ON i.project_id = w.project_id AND i.uuid = w.uuid";

/// Rows a create could not simply replace that need the merge (the upsert above locked
/// them, so this answer holds until commit).
const NEEDS_MERGE: &str = "\
SELECT s.project_id, s.uuid FROM sessions AS s
JOIN unnest($1::int8[], $2::text[]) AS k(project_id, uuid)
  ON s.project_id = k.project_id AND s.uuid = k.uuid
WHERE s.placeholder OR s.field_stamps <> '{}' OR s.point_stamps <> '{}'";

/// Every attachment of the given session rows, named by (project id, id).
const DELETE_ATTACHMENTS: &str = "\
DELETE FROM attachments AS a USING unnest($1::int8[], $2::int8[]) AS d(project_id, session_id)
WHERE a.project_id = d.project_id AND a.session_id = d.session_id";

#[derive(QueryableByName)]
struct WrittenRow {
    #[diesel(embed)]
    session: RowKey,
    /// Whether the row existed (updated rather than inserted: it kept its own id).
    #[diesel(sql_type = diesel::sql_types::Bool)]
    replaced: bool,
}

/// A session row a batch wrote: its id, and whether it replaced an existing row.
#[derive(Debug, Clone, Copy)]
struct Written {
    id: i64,
    replaced: bool,
}

/// The newest create of each session key in a batch: its position, message and session.
type Creates<'a> = BTreeMap<Key<'a>, (usize, &'a Upload, &'a Session)>;

/// Writes a batch of checked writes in one transaction.
pub fn write_batch(
    conn: &mut PgConnection,
    uploads: &[Upload],
    cache: &KnownProjects,
) -> Result<BatchOutcome, StoreError> {
    let mut known = HashSet::new();
    let outcome = conn.transaction(|conn| {
        known = known_projects(conn, uploads, cache)?;
        let mut outcome = BatchOutcome::default();
        // Sorted keys lock rows in one global order, so concurrent batches queue instead of
        // deadlocking. Of several creates of one key only the newest can matter.
        let mut creates: Creates<'_> = BTreeMap::new();
        let mut pending: Pending<'_> = BTreeMap::new();
        for (position, upload) in uploads.iter().enumerate() {
            if !known.contains(&upload.project_id) {
                outcome.unknown_project.push(position);
                continue;
            }
            let key = (upload.project_id, upload.uuid().as_str());
            match &upload.operation {
                Write::Create(session) => {
                    let entry = creates.entry(key).or_insert((position, upload, session));
                    if upload.stamp.order() > entry.1.stamp.order() {
                        *entry = (position, upload, session);
                    }
                }
                _ => pending.entry(key).or_default().push((position, upload)),
            }
        }
        let winners = upsert_sessions(conn, &creates)?;
        replace_attachments(conn, &creates, &winners)?;
        let losers: Vec<Key<'_>> = creates
            .keys()
            .filter(|key| !winners.contains_key(*key))
            .copied()
            .collect();
        let merge = needs_merge(conn, &losers)?;
        for (key, (position, upload, _)) in &creates {
            if winners.contains_key(key) {
                outcome.stored.push(*position);
            } else if merge.contains_key(key) {
                pending.entry(*key).or_default().push((*position, upload));
            }
        }
        outcome.stored.extend(merge_path::apply(conn, &pending)?);
        outcome.stored.sort_unstable();
        record_devices(conn, uploads, &known)?;
        Ok::<_, StoreError>(outcome)
    })?;
    // Only what committed may be taken as written.
    cache.remember_projects(known);
    Ok(outcome)
}

fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// The text points as the `points` jsonb object; binary points live in `attachments`.
pub fn text_points(session: &Session) -> serde_json::Value {
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

/// Returns the session row each key this batch wrote.
fn upsert_sessions<'a>(
    conn: &mut PgConnection,
    creates: &Creates<'a>,
) -> Result<BTreeMap<Key<'a>, Written>, StoreError> {
    if creates.is_empty() {
        return Ok(BTreeMap::new());
    }
    let uploads: Vec<&Upload> = creates.values().map(|(_, upload, _)| *upload).collect();
    let sessions: Vec<&Session> = creates.values().map(|(_, _, session)| *session).collect();
    let orders: Vec<Order> = uploads.iter().map(|u| u.stamp.order()).collect();
    let rows: Vec<WrittenRow> = bind_keys(UPSERT_SESSIONS, creates.keys().copied())
        .bind::<Array<Text>, _>(
            sessions
                .iter()
                .map(|s| s.unit_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Timestamptz>, _>(sessions.iter().map(|s| unix(s.created)).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(sessions.iter().map(|s| unix(s.saved)).collect::<Vec<_>>())
        .bind::<Array<Timestamptz>, _>(orders.iter().map(Order::received).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            uploads
                .iter()
                .map(|u| u.stamp.received_from.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(orders.iter().map(|o| o.1).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(sessions.iter().map(|s| text_points(s)).collect::<Vec<_>>())
        .bind::<Array<Nullable<Integer>>, _>(
            sessions
                .iter()
                .map(|s| s.timezone_offset())
                .collect::<Vec<_>>(),
        )
        .load(conn)?;
    let written = rows.into_iter().map(|written| {
        let RowKey { id, key } = written.session;
        let replaced = written.replaced;
        (key.owned(), Written { id, replaced })
    });
    Ok(match_keys(creates.keys().copied(), written))
}

/// A replaced session loses all its old attachments; the winners' new ones go in.
fn replace_attachments(
    conn: &mut PgConnection,
    creates: &Creates<'_>,
    winners: &BTreeMap<Key<'_>, Written>,
) -> Result<(), StoreError> {
    // A freshly inserted row has no attachments to remove.
    let (projects, ids): (Vec<i64>, Vec<i64>) = winners
        .iter()
        .filter(|(_, written)| written.replaced)
        .map(|((project_id, _), written)| (*project_id, written.id))
        .unzip();
    if !ids.is_empty() {
        diesel::sql_query(DELETE_ATTACHMENTS)
            .bind::<Array<BigInt>, _>(projects)
            .bind::<Array<BigInt>, _>(ids)
            .execute(conn)?;
    }
    let mut columns = AttachmentColumns::default();
    for (key, (_, _, session)) in creates {
        let Some(&Written { id, .. }) = winners.get(key) else {
            continue;
        };
        for (name, value) in &session.points {
            columns.push((key.0, id), name.as_str(), value);
        }
    }
    insert_attachments(conn, columns)
}

/// Of the creates the upsert did not write, those whose row needs the merge path.
fn needs_merge<'a>(
    conn: &mut PgConnection,
    keys: &[Key<'a>],
) -> Result<BTreeMap<Key<'a>, ()>, StoreError> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<KeyColumns> = bind_keys(NEEDS_MERGE, keys.iter().copied()).load(conn)?;
    let found = rows.into_iter().map(|key| (key.owned(), ()));
    Ok(match_keys(keys.iter().copied(), found))
}
