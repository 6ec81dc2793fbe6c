//! `intake purge`: hard-delete a project's soft-deleted or old sessions, leaving tombstones
//! that keep older uploads from bringing them back, and drop old tombstones. Batches are
//! short transactions that skip rows a consumer holds, so a purge runs beside the pipeline;
//! rows skipped are tried again a few times and else counted as left for the next run.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use serde::Serialize;

use crate::ToolError;
use intake::store::StoreError;
use intake::store::purge::{self as store, Selection, Tally};

/// What one purge of one project is asked to do.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// The project.
    pub project_id: i64,
    /// The sessions to purge, if any.
    pub selection: Option<Selection>,
    /// Also delete tombstones left before this time.
    pub tombstones_before: Option<DateTime<Utc>>,
    /// Count what would go; change nothing.
    pub dry_run: bool,
    /// Rows per transaction.
    pub batch_size: i64,
    /// Progress lines on stderr.
    pub progress: bool,
}

/// What a purge did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PurgeReport {
    /// The project.
    pub project_id: i64,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Sessions purged (tombstones left) and the attachments removed with them.
    pub sessions: i64,
    /// Attachment rows removed.
    pub attachments: i64,
    /// Their bytes.
    pub attachment_bytes: i64,
    /// Tombstones deleted.
    pub tombstones: i64,
    /// Rows a writer kept locked through every retry: left for the next run.
    pub busy: i64,
    /// Transactions run.
    pub batches: u64,
}

impl PurgeReport {
    fn add(&mut self, tally: Tally) {
        self.sessions += tally.sessions;
        self.attachments += tally.attachments;
        self.attachment_bytes += tally.bytes;
    }
}

impl PurgeReport {
    /// Adds another project's report to this one.
    pub fn absorb(&mut self, other: &Self) {
        self.sessions += other.sessions;
        self.attachments += other.attachments;
        self.attachment_bytes += other.attachment_bytes;
        self.tombstones += other.tombstones;
        self.busy += other.busy;
        self.batches += other.batches;
    }

    /// The counts, one line.
    pub fn totals(&self) -> String {
        let verb = if self.dry_run {
            "would purge"
        } else {
            "purged"
        };
        let mut line = format!(
            "{verb} {} sessions ({} attachments, {} bytes); {} tombstones",
            self.sessions, self.attachments, self.attachment_bytes, self.tombstones
        );
        if self.dry_run {
            line.push_str(" would be deleted (dry run: nothing changed)");
        } else {
            line.push_str(&format!(" deleted; {} transactions", self.batches));
        }
        if self.busy > 0 {
            line.push_str(&format!("; {} rows busy, left for the next run", self.busy));
        }
        line
    }
}

impl fmt::Display for PurgeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "project {}: {}", self.project_id, self.totals())
    }
}

/// How often rows a writer held are tried again, and the first pause (doubling).
const RETRIES: u32 = 5;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

/// Purges one project as `options` say.
pub fn purge(conn: &mut PgConnection, options: &PurgeOptions) -> Result<PurgeReport, ToolError> {
    if options.batch_size < 1 {
        return Err(ToolError::Options("--batch must be at least 1".into()));
    }
    let project_id = options.project_id;
    let mut report = PurgeReport {
        project_id,
        dry_run: options.dry_run,
        ..PurgeReport::default()
    };
    if options.dry_run {
        if let Some(selection) = options.selection {
            report.add(store::count(conn, project_id, selection).map_err(database)?);
        }
        if let Some(before) = options.tombstones_before {
            report.tombstones =
                store::count_tombstones(conn, project_id, before).map_err(database)?;
        }
        return Ok(report);
    }
    let mut progress = Progress::new(options.progress);
    if let Some(selection) = options.selection {
        let busy = walk(
            conn,
            options.batch_size,
            |conn, after, limit| store::candidates(conn, project_id, selection, after, limit),
            |conn, ids| store::still_selected(conn, project_id, selection, ids),
            |conn, ids| {
                let (done, tally) = store::purge_batch(conn, project_id, selection, ids)?;
                report.add(tally);
                report.batches += 1;
                progress.tick(&report);
                Ok(done)
            },
        )?;
        report.busy += busy;
    }
    if let Some(before) = options.tombstones_before {
        let busy = walk(
            conn,
            options.batch_size,
            |conn, after, limit| store::tombstone_ids(conn, project_id, before, None, after, limit),
            |conn, ids| store::tombstone_ids(conn, project_id, before, Some(ids), 0, i64::MAX),
            |conn, ids| {
                let done = store::drop_tombstones(conn, project_id, before, ids)?;
                report.tombstones += i64::try_from(done.len()).unwrap_or(i64::MAX);
                report.batches += 1;
                progress.tick(&report);
                Ok(done)
            },
        )?;
        report.busy += busy;
    }
    Ok(report)
}

/// Walks the rows `next(after, limit)` finds, in id order, one batch per `act`, which
/// returns the ids it handled. Ids it skipped that `still` finds selected (a writer held
/// them) are tried again after a pause; returns how many were still held at the end.
fn walk(
    conn: &mut PgConnection,
    batch: i64,
    mut next: impl FnMut(&mut PgConnection, i64, i64) -> Result<Vec<i64>, StoreError>,
    mut still: impl FnMut(&mut PgConnection, &[i64]) -> Result<Vec<i64>, StoreError>,
    mut act: impl FnMut(&mut PgConnection, &[i64]) -> Result<Vec<i64>, StoreError>,
) -> Result<i64, ToolError> {
    let mut skipped = Vec::new();
    let mut after = 0;
    loop {
        let ids = next(conn, after, batch).map_err(database)?;
        let Some(&last) = ids.last() else { break };
        after = last;
        let done = act(conn, &ids).map_err(database)?;
        skipped.extend(ids.into_iter().filter(|id| !done.contains(id)));
    }
    let mut pause = FIRST_PAUSE;
    for _ in 0..RETRIES {
        skipped = still(conn, &skipped).map_err(database)?;
        if skipped.is_empty() {
            break;
        }
        std::thread::sleep(pause);
        pause *= 2;
        for chunk in skipped.clone().chunks(usize::try_from(batch).unwrap_or(1)) {
            let done = act(conn, chunk).map_err(database)?;
            skipped.retain(|id| !done.contains(id));
        }
    }
    Ok(i64::try_from(skipped.len()).unwrap_or(i64::MAX))
}

/// A time on the command line: RFC 3339, a date (midnight UTC) or unix seconds.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.to_utc());
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    text.parse::<i64>()
        .ok()
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .ok_or_else(|| format!("{text:?} is not RFC 3339, YYYY-MM-DD or unix seconds"))
}

fn database(error: StoreError) -> ToolError {
    ToolError::Database(error.to_string())
}

/// A progress line on stderr at most once a second.
struct Progress {
    enabled: bool,
    last: Instant,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            last: Instant::now(),
        }
    }

    fn tick(&mut self, report: &PurgeReport) {
        if self.enabled && self.last.elapsed() >= Duration::from_secs(1) {
            self.last = Instant::now();
            eprintln!(
                "purge project {}: {} sessions purged, {} attachments removed, {} tombstones \
                 deleted, {} transactions",
                report.project_id,
                report.sessions,
                report.attachments,
                report.tombstones,
                report.batches
            );
        }
    }
}
