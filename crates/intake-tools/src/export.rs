//! `intake export`: a project's sessions, written exactly as the export route streams them.
//! It reads PostgreSQL through the library's export pages rather than calling a front: an
//! operator's backup needs no API user, no grant and no running front, and the bytes are
//! built by the same code the route uses.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::ToolError;
use crate::export_output::Output;
use crate::progress::Ticker;
use intake::config::DatabaseConfig;
use intake::export::{Export, Format, point_names_page};
use intake::store::read::ListFilter;
use intake::store::{Store, StoreError, accounts};

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The database to read.
    pub database: DatabaseConfig,
    /// The project.
    pub project_id: i64,
    /// Which sessions (the route's `unit_id`, `since`, `until`, `deleted`).
    pub filter: ListFilter,
    /// NDJSON or CSV.
    pub format: Format,
    /// The file to write (through a temporary file renamed at the end); stdout when `None`.
    pub output: Option<PathBuf>,
    /// Print progress to stderr.
    pub progress: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The project.
    pub project_id: i64,
    /// Where it went (`-` for stdout).
    pub output: String,
    /// Sessions written.
    pub sessions: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Seconds taken.
    pub elapsed_seconds: f64,
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let elapsed = self.elapsed_seconds.max(1e-9);
        writeln!(
            f,
            "exported {} sessions of project {} ({:.1} MB) to {} in {:.2} s: {:.0} sessions/s, {:.1} MB/s",
            self.sessions,
            self.project_id,
            megabytes(self.bytes),
            self.output,
            self.elapsed_seconds,
            self.sessions as f64 / elapsed,
            megabytes(self.bytes) / elapsed,
        )
    }
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// Counters shared by the writer and the progress line.
#[derive(Debug, Default)]
struct Tally {
    sessions: AtomicU64,
    bytes: AtomicU64,
    /// Set once the CSV's pass over the point names is done (NDJSON has none).
    writing: AtomicBool,
}

impl Tally {
    fn line(&self, elapsed: Duration) -> String {
        if !self.writing.load(Ordering::Relaxed) {
            return format!("[{:>4}s] collecting the point names", elapsed.as_secs());
        }
        let sessions = self.sessions.load(Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64().max(1e-9);
        format!(
            "[{:>4}s] {sessions} sessions ({:.0}/s), {:.1} MB",
            elapsed.as_secs(),
            sessions as f64 / seconds,
            megabytes(self.bytes.load(Ordering::Relaxed)),
        )
    }
}

/// Writes the export; on failure nothing is left at `-o`'s path.
pub async fn export(options: ExportOptions) -> Result<ExportReport, ToolError> {
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let ticker = Ticker::start(options.progress, {
        let tally = Arc::clone(&tally);
        move |elapsed| tally.line(elapsed)
    });
    let output = options
        .output
        .as_ref()
        .map_or_else(|| "-".to_owned(), |path| path.display().to_string());
    let project_id = options.project_id;
    let written = tokio::task::spawn_blocking({
        let tally = Arc::clone(&tally);
        move || write(&options, &tally)
    })
    .await
    .map_err(|error| ToolError::Task(error.to_string()));
    ticker.stop().await;
    written??;
    Ok(ExportReport {
        project_id,
        output,
        sessions: tally.sessions.load(Ordering::Relaxed),
        bytes: tally.bytes.load(Ordering::Relaxed),
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

fn database(error: StoreError) -> ToolError {
    ToolError::Database(error.to_string())
}

/// The blocking part: page after page on one connection, into the output.
fn write(options: &ExportOptions, tally: &Tally) -> Result<(), ToolError> {
    let store = Store::new(&options.database);
    let mut conn = store.conn().map_err(database)?;
    let project_id = options.project_id;
    if !accounts::list_projects(&mut conn)
        .map_err(database)?
        .iter()
        .any(|project| project.id == project_id)
    {
        return Err(ToolError::Options(format!(
            "no project with id {project_id} (intake project list shows them)"
        )));
    }
    let columns = match options.format {
        Format::Ndjson => Vec::new(),
        Format::Csv => {
            let mut names = std::collections::BTreeSet::new();
            let mut after = None;
            loop {
                let (page, next) = point_names_page(&mut conn, project_id, &options.filter, after)
                    .map_err(database)?;
                names.extend(page);
                match next {
                    Some(next) => after = Some(next),
                    None => break names.into_iter().collect(),
                }
            }
        }
    };
    tally.writing.store(true, Ordering::Relaxed);
    let export = Export {
        project_id,
        filter: options.filter.clone(),
        format: options.format,
        columns,
    };
    let mut output = Output::open(options.output.as_deref())?;
    if let Some(head) = export.head() {
        output.write(head.as_bytes())?;
        tally.bytes.fetch_add(head.len() as u64, Ordering::Relaxed);
    }
    let mut after = None;
    loop {
        let page = export.page(&mut conn, after).map_err(database)?;
        output.write(page.text.as_bytes())?;
        tally
            .sessions
            .fetch_add(page.sessions as u64, Ordering::Relaxed);
        tally
            .bytes
            .fetch_add(page.text.len() as u64, Ordering::Relaxed);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    output.finish()
}
