//! The list route on a table of millions of sessions: rows generated in SQL, then the
//! route's own query (`store::read::list_sessions`) timed for the first page, pages deep
//! behind a cursor, a device filter and a time window.

use std::time::Instant;

use diesel::connection::SimpleConnection as _;
use serde::Serialize;

use intake::store::read::{ListFilter, Position, list_sessions};
use intake::store::{Store, admin};

/// Milliseconds per page, averaged over the repetitions.
#[derive(Debug, Serialize)]
pub struct ListFigures {
    /// Sessions in the project.
    pub rows: u64,
    /// Seconds to generate them.
    pub generate_seconds: f64,
    /// Page size.
    pub limit: i64,
    /// Newest page.
    pub first_page_ms: f64,
    /// The page after following the cursor through `deep_pages` pages.
    pub deep_page_ms: f64,
    /// Pages followed for `deep_page_ms`.
    pub deep_pages: u32,
    /// First page of one device's sessions.
    pub unit_filter_ms: f64,
    /// First page of a one-hour window in the middle of the data.
    pub time_window_ms: f64,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Generates `rows` sessions (one every 10 ms of receive time, 1,000 devices) and times
/// the list queries on them, `repeat` times each.
pub fn measure(store: &Store, rows: u64, limit: i64, repeat: u32) -> Result<ListFigures, Error> {
    let mut conn = store.conn()?;
    let project_id = admin::create_project(&mut conn, &format!("list-{}", uuid::Uuid::new_v4()))?;
    let started = Instant::now();
    conn.batch_execute(&format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                               upload_id, points)
         SELECT {project_id}, 'list-' || n, 'unit-' || (n % 1000),
                to_timestamp(1700000000), to_timestamp(1700000000),
                to_timestamp(1700000000) + n * interval '10 milliseconds', 'bench',
                gen_random_uuid(), jsonb_build_object('p0', 'value ' || n, 'p1', 'another value')
         FROM generate_series(1, {rows}) AS n;
         ANALYZE sessions;"
    ))?;
    let generate_seconds = started.elapsed().as_secs_f64();
    let all = ListFilter::default();
    let timed = |conn: &mut diesel::PgConnection, filter: &ListFilter, after: Option<Position>| {
        let started = Instant::now();
        for _ in 0..repeat.max(1) {
            list_sessions(conn, project_id, filter, after, limit)?;
        }
        Ok::<f64, Error>(started.elapsed().as_secs_f64() * 1000.0 / f64::from(repeat.max(1)))
    };
    let first_page_ms = timed(&mut conn, &all, None)?;
    let deep_pages = 50;
    let mut after = None;
    for _ in 0..deep_pages {
        after = list_sessions(&mut conn, project_id, &all, after, limit)?.1;
    }
    let deep_page_ms = timed(&mut conn, &all, after)?;
    let unit = ListFilter {
        unit_id: Some("unit-7".into()),
        ..ListFilter::default()
    };
    let unit_filter_ms = timed(&mut conn, &unit, None)?;
    let middle = 1_700_000_000 + i64::try_from(rows / 200).unwrap_or(0);
    let window = ListFilter {
        since: Some(middle),
        until: Some(middle + 3_600),
        ..ListFilter::default()
    };
    let time_window_ms = timed(&mut conn, &window, None)?;
    conn.batch_execute(&format!(
        "DELETE FROM sessions WHERE project_id = {project_id}"
    ))?;
    Ok(ListFigures {
        rows,
        generate_seconds,
        limit,
        first_page_ms,
        deep_page_ms,
        deep_pages,
        unit_filter_ms,
        time_window_ms,
    })
}
