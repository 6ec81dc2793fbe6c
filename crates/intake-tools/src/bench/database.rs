//! The database limit and the consumer's write path on the same rows. The limit is a bare
//! set-based write (unnest arrays, `ON CONFLICT … DO UPDATE … WHERE` newer) of exactly what the
//! contract stores: the session rows, the attachments of replaced sessions removed and the new
//! ones inserted, and the device sightings. It writes into copies of the real tables (same
//! columns, indexes and foreign keys), so the comparison measures intake's code, not a
//! narrower schema. The write path is `store::write::write_batch`. Both run in batches on
//! `workers` connections, with half the rows replacing earlier ones.

mod raw;

use std::time::Instant;

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use serde::Serialize;

use self::raw::{RAW_TABLES, RawRow, raw_batch};
use super::{Rate, Shape, sample_session};
use intake::ordering::Stamp;
use intake::session::Session;
use intake::store::write::write_batch;
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
