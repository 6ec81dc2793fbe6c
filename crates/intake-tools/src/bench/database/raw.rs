//! The bare set-based write the consumer's write path is measured against: copies of the real
//! tables, one unnest upsert of the sessions, the replaced sessions' attachments removed and
//! the new ones inserted, and the device sightings.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use sha2::{Digest as _, Sha256};

use intake::session::{PointValue, Session};
use intake::store::write::text_points;
use intake::wire::Upload;

pub(super) const RAW_TABLES: &str = "\
DROP TABLE IF EXISTS bench_attachments, bench_sessions, bench_devices;
CREATE TABLE bench_sessions (LIKE sessions INCLUDING ALL);
ALTER TABLE bench_sessions ADD FOREIGN KEY (project_id) REFERENCES projects (id);
CREATE TABLE bench_attachments (LIKE attachments INCLUDING ALL);
ALTER TABLE bench_attachments
  ADD FOREIGN KEY (project_id, session_id) REFERENCES bench_sessions (project_id, id)
    ON DELETE CASCADE;
CREATE TABLE bench_devices (LIKE devices INCLUDING ALL);
ALTER TABLE bench_devices ADD FOREIGN KEY (project_id) REFERENCES projects (id);";

const RAW_SESSIONS: &str = "\
INSERT INTO bench_sessions AS s (project_id, uuid, unit_id, created, saved, received,
                                 received_from, upload_id, points, timezone_offset)
SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                     $6::timestamptz[], $7::text[], $8::uuid[], $9::jsonb[], $10::int4[])
ON CONFLICT (project_id, uuid) DO UPDATE SET unit_id = EXCLUDED.unit_id,
  created = EXCLUDED.created, saved = EXCLUDED.saved, received = EXCLUDED.received,
  received_from = EXCLUDED.received_from, upload_id = EXCLUDED.upload_id,
  points = EXCLUDED.points, timezone_offset = EXCLUDED.timezone_offset
WHERE (s.received, s.upload_id) < (EXCLUDED.received, EXCLUDED.upload_id)
RETURNING id, uuid, xmax <> 0 AS replaced";

const RAW_ATTACHMENTS: &str = "\
INSERT INTO bench_attachments (project_id, session_id, point, embedded, filename, content_type,
                               size, md5, sha256, bytes)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::bool[], $5::text[], $6::text[],
                     $7::int8[], $8::bytea[], $9::bytea[], $10::bytea[])";

const RAW_DEVICES: &str = "\
INSERT INTO bench_devices AS d (project_id, unit_id, first_seen, last_seen)
SELECT * FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $3::timestamptz[])
ON CONFLICT (project_id, unit_id) DO UPDATE SET
  first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)";

/// One upload prepared for the bare write: its session and its files' digests, which the
/// limit is given ready-made (hashing is content work, not database work).
pub(super) struct RawRow<'a> {
    upload: &'a Upload,
    session: &'a Session,
    digests: Vec<(Vec<u8>, Vec<u8>)>,
}

impl<'a> RawRow<'a> {
    pub(super) fn new(upload: &'a Upload, session: &'a Session) -> Self {
        let digests = session
            .points
            .values()
            .filter_map(PointValue::attachment)
            .map(|file| (file.md5().to_vec(), Sha256::digest(file.bytes).to_vec()))
            .collect();
        Self {
            upload,
            session,
            digests,
        }
    }
}

#[derive(QueryableByName)]
struct RawWritten {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    uuid: String,
    #[diesel(sql_type = Bool)]
    replaced: bool,
}

pub(super) fn raw_batch(conn: &mut PgConnection, chunk: &[RawRow<'_>]) -> QueryResult<()> {
    // Rows of one batch must not conflict with each other; keep the newest per uuid.
    let newest: BTreeMap<&str, &RawRow<'_>> = chunk
        .iter()
        .map(|row| (row.session.uuid.as_str(), row))
        .collect();
    let rows: Vec<&RawRow<'_>> = newest.into_values().collect();
    let seconds = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
    conn.transaction(|conn| {
        let written: Vec<RawWritten> = diesel::sql_query(RAW_SESSIONS)
            .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.upload.project_id).collect::<Vec<_>>())
            .bind::<Array<Text>, _>(
                rows.iter()
                    .map(|r| r.session.uuid.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                rows.iter()
                    .map(|r| r.session.unit_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamptz>, _>(
                rows.iter()
                    .map(|r| seconds(r.session.created))
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamptz>, _>(
                rows.iter()
                    .map(|r| seconds(r.session.saved))
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamptz>, _>(
                rows.iter()
                    .map(|r| r.upload.stamp.received())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                rows.iter()
                    .map(|r| r.upload.stamp.received_from.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<diesel::sql_types::Uuid>, _>(
                rows.iter()
                    .map(|r| r.upload.stamp.upload_id)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Jsonb>, _>(
                rows.iter()
                    .map(|r| text_points(r.session))
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Nullable<Integer>>, _>(
                rows.iter()
                    .map(|r| r.session.timezone_offset())
                    .collect::<Vec<_>>(),
            )
            .load(conn)?;
        let replaced: Vec<i64> = written
            .iter()
            .filter(|w| w.replaced)
            .map(|w| w.id)
            .collect();
        // A bench batch is of one project, as the loadgen fleet posts to one.
        let project_id = rows.first().map_or(0, |r| r.upload.project_id);
        if !replaced.is_empty() {
            diesel::sql_query(
                "DELETE FROM bench_attachments WHERE project_id = $1 AND session_id = ANY($2)",
            )
            .bind::<BigInt, _>(project_id)
            .bind::<Array<BigInt>, _>(replaced)
            .execute(conn)?;
        }
        insert_raw_attachments(conn, &rows, &written)?;
        let mut devices = BTreeMap::new();
        for row in &rows {
            let at = row.upload.stamp.received();
            let seen = devices.entry(row.session.unit_id.as_str()).or_insert(at);
            *seen = (*seen).max(at);
        }
        let (units, seen): (Vec<&str>, Vec<DateTime<Utc>>) = devices.into_iter().unzip();
        diesel::sql_query(RAW_DEVICES)
            .bind::<Array<BigInt>, _>(vec![project_id; units.len()])
            .bind::<Array<Text>, _>(units)
            .bind::<Array<Timestamptz>, _>(seen)
            .execute(conn)
            .map(drop)
    })
}

/// The binary points of the rows the upsert wrote, in one unnest insert.
fn insert_raw_attachments(
    conn: &mut PgConnection,
    rows: &[&RawRow<'_>],
    written: &[RawWritten],
) -> QueryResult<()> {
    let ids: BTreeMap<&str, i64> = written.iter().map(|w| (w.uuid.as_str(), w.id)).collect();
    let mut columns = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut digests: (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    for row in rows {
        let Some(&id) = ids.get(row.session.uuid.as_str()) else {
            continue;
        };
        let files = row
            .session
            .points
            .iter()
            .filter_map(|(name, value)| Some((name, value.attachment()?)));
        for ((name, file), (md5, sha256)) in files.zip(&row.digests) {
            columns.0.push(id);
            columns.1.push(name.as_str());
            columns.2.push(file.embedded);
            columns.3.push(file.filename);
            columns.4.push(file.content_type);
            columns.5.push(file.bytes);
            digests.0.push(md5);
            digests.1.push(sha256);
        }
    }
    if columns.0.is_empty() {
        return Ok(());
    }
    let sizes: Vec<i64> = columns.5.iter().map(|b| b.len() as i64).collect();
    let projects: Vec<i64> = rows
        .first()
        .map(|r| vec![r.upload.project_id; columns.0.len()])
        .unwrap_or_default();
    diesel::sql_query(RAW_ATTACHMENTS)
        .bind::<Array<BigInt>, _>(projects)
        .bind::<Array<BigInt>, _>(columns.0)
        .bind::<Array<Text>, _>(columns.1)
        .bind::<Array<Bool>, _>(columns.2)
        .bind::<Array<Nullable<Text>>, _>(columns.3)
        .bind::<Array<Text>, _>(columns.4)
        .bind::<Array<BigInt>, _>(sizes)
        .bind::<Array<Binary>, _>(digests.0)
        .bind::<Array<Binary>, _>(digests.1)
        .bind::<Array<Binary>, _>(columns.5)
        .execute(conn)
        .map(drop)
}
