//! The database limit and the consumer's write path on the same rows. The limit is a bare
//! set-based write (unnest arrays, `ON CONFLICT … DO UPDATE … WHERE` newer) of exactly what the
//! contract stores: the session rows, the attachments of replaced sessions removed and the new
//! ones inserted, and the device sightings. It writes into copies of the real tables (same
//! columns, indexes and foreign keys), so the comparison measures intake's code, not a
//! narrower schema. The write path is `store::write::write_batch`. Both run in batches on
//! `workers` connections, with half the rows replacing earlier ones.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{Rate, Shape, sample_session};
use intake::ordering::Stamp;
use intake::session::{PointValue, Session};
use intake::store::write::{text_points, write_batch};
use intake::store::{Store, admin};
use intake::wire::Upload;

/// Rows per second of each path.
#[derive(Debug, Serialize)]
pub struct DatabaseFigures {
    /// Rows per batch.
    pub batch: usize,
    /// Connections writing at once.
    pub workers: usize,
    /// What each session carries.
    pub shape: Shape,
    /// The bare set-based write into copies of the tables.
    pub raw_upsert: Rate,
    /// The consumer's batch write (project check, upsert, merge check, attachments, devices).
    pub write_path: Rate,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

const RAW_TABLES: &str = "\
DROP TABLE IF EXISTS bench_attachments, bench_sessions, bench_devices;
CREATE TABLE bench_sessions (LIKE sessions INCLUDING ALL);
ALTER TABLE bench_sessions ADD FOREIGN KEY (project_id) REFERENCES projects (id);
CREATE TABLE bench_attachments (LIKE attachments INCLUDING ALL);
ALTER TABLE bench_attachments
  ADD FOREIGN KEY (session_id) REFERENCES bench_sessions (id) ON DELETE CASCADE;
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
INSERT INTO bench_attachments (session_id, point, embedded, filename, content_type, size, md5,
                               sha256, bytes)
SELECT * FROM unnest($1::int8[], $2::text[], $3::bool[], $4::text[], $5::text[], $6::int8[],
                     $7::bytea[], $8::bytea[], $9::bytea[])";

const RAW_DEVICES: &str = "\
INSERT INTO bench_devices AS d (project_id, unit_id, first_seen, last_seen)
SELECT * FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $3::timestamptz[])
ON CONFLICT (project_id, unit_id) DO UPDATE SET
  first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)";

/// One upload prepared for the bare write: its session and its files' digests, which the
/// limit is given ready-made (hashing is content work, not database work).
struct RawRow<'a> {
    upload: &'a Upload,
    session: &'a Session,
    digests: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Measures both paths on `rows` uploads over `rows / 2` uuids (half are replacements).
pub fn measure(
    store: &Store,
    rows: u64,
    batch: usize,
    workers: usize,
    shape: Shape,
) -> Result<DatabaseFigures, Error> {
    let mut conn = store.conn()?;
    let raw_project =
        admin::create_project(&mut conn, &format!("bench-raw-{}", uuid::Uuid::new_v4()))?;
    let write_project =
        admin::create_project(&mut conn, &format!("bench-write-{}", uuid::Uuid::new_v4()))?;
    conn.batch_execute(RAW_TABLES)?;
    let sessions: Vec<Session> = (0..rows)
        .filter_map(|i| sample_session(i, rows / 2, &shape))
        .collect();
    let raw_uploads: Vec<Upload> = sessions
        .iter()
        .map(|session| Upload::create(raw_project, Stamp::now("bench"), session.clone()))
        .collect();
    let raw_rows: Vec<RawRow<'_>> = raw_uploads
        .iter()
        .zip(&sessions)
        .map(|(upload, session)| RawRow::new(upload, session))
        .collect();
    let raw_chunks: Vec<&[RawRow<'_>]> = raw_rows.chunks(batch.max(1)).collect();
    let raw_upsert = in_parallel(store, &raw_chunks, workers, |conn, chunk| {
        raw_batch(conn, chunk).map_err(Into::into)
    })?;

    let writes: Vec<Upload> = sessions
        .into_iter()
        .map(|session| Upload::create(write_project, Stamp::now("bench"), session))
        .collect();
    let write_chunks: Vec<&[Upload]> = writes.chunks(batch.max(1)).collect();
    let cache = store.known_projects();
    let write_path = in_parallel(store, &write_chunks, workers, |conn, chunk| {
        write_batch(conn, chunk, &cache)
            .map(drop)
            .map_err(Into::into)
    })?;
    // Leave the database as it was, so repeated runs start alike.
    conn.batch_execute("DROP TABLE bench_attachments, bench_sessions, bench_devices;")?;
    for table in ["sessions", "devices"] {
        diesel::sql_query(format!("DELETE FROM {table} WHERE project_id = ANY($1)"))
            .bind::<Array<BigInt>, _>(vec![raw_project, write_project])
            .execute(&mut conn)?;
    }
    diesel::sql_query("DELETE FROM projects WHERE id = ANY($1)")
        .bind::<Array<BigInt>, _>(vec![raw_project, write_project])
        .execute(&mut conn)?;
    conn.batch_execute("VACUUM sessions, attachments, devices;")?;
    Ok(DatabaseFigures {
        batch,
        workers,
        shape,
        raw_upsert,
        write_path,
    })
}

impl<'a> RawRow<'a> {
    fn new(upload: &'a Upload, session: &'a Session) -> Self {
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

fn in_parallel<T: Sync>(
    store: &Store,
    chunks: &[&[T]],
    workers: usize,
    write: impl Fn(&mut PgConnection, &[T]) -> Result<(), Error> + Sync,
) -> Result<Rate, Error> {
    let started = Instant::now();
    let workers = workers.max(1);
    let results: Vec<Result<u64, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let write = &write;
                scope.spawn(move || {
                    let mut conn = store.conn()?;
                    let mut rows = 0u64;
                    for chunk in chunks.iter().skip(worker).step_by(workers) {
                        write(&mut conn, chunk)?;
                        rows += chunk.len() as u64;
                    }
                    Ok(rows)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("a writer thread died".into()))
            })
            .collect()
    });
    let mut rows = 0;
    for result in results {
        rows += result?;
    }
    Ok(Rate::of(rows, started.elapsed()))
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

fn raw_batch(conn: &mut PgConnection, chunk: &[RawRow<'_>]) -> QueryResult<()> {
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
        if !replaced.is_empty() {
            diesel::sql_query("DELETE FROM bench_attachments WHERE session_id = ANY($1)")
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
        let project_id = rows.first().map_or(0, |r| r.upload.project_id);
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
    diesel::sql_query(RAW_ATTACHMENTS)
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
