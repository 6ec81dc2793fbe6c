//! The database limit and the consumer's write path on the same rows: a bare set-based
//! upsert of the session rows (unnest arrays, `ON CONFLICT … DO UPDATE … WHERE` newer) and of
//! the device rows every session also updates, against
//! `store::write::write_batch`, each in batches on `workers` connections, half the rows
//! replacing existing ones.

use std::time::Instant;

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Jsonb, Text, Timestamptz};
use serde::Serialize;

use super::{Rate, sample_session};
use crate::session::PointValue;
use crate::store::{Store, admin, write::write_batch};
use crate::wire::{Stamp, Upload, Write};

/// Rows per second of each path.
#[derive(Debug, Serialize)]
pub struct DatabaseFigures {
    /// Rows per batch.
    pub batch: usize,
    /// Connections writing at once.
    pub workers: usize,
    /// The bare unnest upsert of the session rows.
    pub raw_upsert: Rate,
    /// The consumer's batch write (project check, upsert, attachments, devices).
    pub write_path: Rate,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

const RAW_UPSERT: &str = "\
INSERT INTO bench_sessions AS s (project_id, uuid, unit_id, received, upload_id, points)
SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[], $6::jsonb[])
ON CONFLICT (project_id, uuid) DO UPDATE SET unit_id = EXCLUDED.unit_id,
  received = EXCLUDED.received, upload_id = EXCLUDED.upload_id, points = EXCLUDED.points
WHERE (s.received, s.upload_id) < (EXCLUDED.received, EXCLUDED.upload_id)";

/// The device sightings every stored session also records (the write path keeps them too).
const RAW_DEVICES: &str = "\
INSERT INTO bench_devices AS d (project_id, unit_id, first_seen, last_seen)
SELECT * FROM unnest($1::int8[], $2::text[], $3::timestamptz[], $3::timestamptz[])
ON CONFLICT (project_id, unit_id) DO UPDATE SET
  first_seen = LEAST(d.first_seen, EXCLUDED.first_seen),
  last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)";

/// Measures both paths on `rows` uploads over `rows / 2` uuids (half are replacements).
pub fn measure(
    store: &Store,
    rows: u64,
    batch: usize,
    workers: usize,
) -> Result<DatabaseFigures, Error> {
    let mut conn = store.conn()?;
    let project_id = admin::create_project(&mut conn, &format!("bench-{}", uuid::Uuid::new_v4()))?;
    // A logged table like the real one (UNLOGGED would flatter the limit).
    conn.batch_execute(
        "DROP TABLE IF EXISTS bench_sessions;
         CREATE TABLE bench_sessions (project_id int8, uuid text, unit_id text,
             received timestamptz, upload_id uuid, points jsonb, PRIMARY KEY (project_id, uuid));
         DROP TABLE IF EXISTS bench_devices;
         CREATE TABLE bench_devices (project_id int8, unit_id text, first_seen timestamptz,
             last_seen timestamptz, PRIMARY KEY (project_id, unit_id));",
    )?;
    let uploads: Vec<Upload> = (0..rows)
        .filter_map(|i| sample_session(i, rows / 2))
        .map(|session| Upload::create(project_id, Stamp::now("bench"), session))
        .collect();
    let chunks: Vec<&[Upload]> = uploads.chunks(batch.max(1)).collect();

    let raw_upsert = in_parallel(store, &chunks, workers, |conn, chunk| {
        raw_batch(conn, chunk, project_id).map_err(Into::into)
    })?;
    let writes: Vec<Upload<Write>> = uploads.iter().cloned().map(Upload::<Write>::from).collect();
    let write_chunks: Vec<&[Upload<Write>]> = writes.chunks(batch.max(1)).collect();
    let cache = store.write_cache();
    let write_path = in_parallel(store, &write_chunks, workers, |conn, chunk| {
        write_batch(conn, chunk, &cache)
            .map(drop)
            .map_err(Into::into)
    })?;
    conn.batch_execute("DROP TABLE bench_sessions; DROP TABLE bench_devices;")?;
    Ok(DatabaseFigures {
        batch,
        workers,
        raw_upsert,
        write_path,
    })
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

fn raw_batch(conn: &mut PgConnection, chunk: &[Upload], project_id: i64) -> QueryResult<()> {
    // Rows of one batch must not conflict with each other; keep the newest per uuid.
    let mut newest = std::collections::BTreeMap::new();
    for upload in chunk {
        newest.insert(upload.session().uuid.as_str(), upload);
    }
    let uploads: Vec<&Upload> = newest.into_values().collect();
    let received: Vec<DateTime<Utc>> = uploads.iter().map(|u| u.stamp.received()).collect();
    let points: Vec<serde_json::Value> = uploads
        .iter()
        .map(|u| {
            let texts = u
                .session()
                .points
                .iter()
                .filter_map(|(name, value)| match value {
                    PointValue::Text(text) => Some((name.as_str().to_owned(), text.clone().into())),
                    _ => None,
                });
            serde_json::Value::Object(texts.collect())
        })
        .collect();
    conn.transaction(|conn| {
        diesel::sql_query(RAW_UPSERT)
            .bind::<Array<BigInt>, _>(vec![project_id; uploads.len()])
            .bind::<Array<Text>, _>(
                uploads
                    .iter()
                    .map(|u| u.session().uuid.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Text>, _>(
                uploads
                    .iter()
                    .map(|u| u.session().unit_id.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Timestamptz>, _>(received)
            .bind::<Array<diesel::sql_types::Uuid>, _>(
                uploads
                    .iter()
                    .map(|u| u.stamp.upload_id)
                    .collect::<Vec<_>>(),
            )
            .bind::<Array<Jsonb>, _>(points)
            .execute(conn)?;
        let mut devices = std::collections::BTreeMap::new();
        for upload in &uploads {
            let seen = devices
                .entry(upload.session().unit_id.as_str())
                .or_insert(upload.stamp.received());
            *seen = (*seen).max(upload.stamp.received());
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
