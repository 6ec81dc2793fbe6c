//! `intake loadgen --verify`: waits until PostgreSQL holds, for every uuid loadgen got
//! accepted, the *last-accepted* upload (greatest `X-Upload-Id`) with the unit id and text
//! points it sent. This checks the pipeline end to end: durability of every 202 and the
//! acceptance-order replacement rule under concurrent uploads of the same uuid.
//!
//! Rows are read through the store (its statement timeout applies) with set-based queries in
//! chunks, never one query per uuid.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::ToolError;
use intake::config::{DatabaseConfig, Secret};
use intake::store::Store;
use intake::store::versions::{StoredVersion, load_versions};

/// Uuids per verification query.
const CHUNK: usize = 5_000;
/// Differences listed in a report.
const MAX_DIFFERENCES: usize = 20;
/// The shipped configuration's statement timeout: one chunk's query takes milliseconds.
const STATEMENT_TIMEOUT_MS: u64 = 30_000;
/// The shipped configuration's wait for a connection.
const CONNECT_TIMEOUT_MS: u64 = 2_000;

/// Where and how long to look.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// PostgreSQL URL of the installation the front writes to.
    pub database_url: String,
    /// Give up (and report what is still missing) after this long.
    pub timeout: Duration,
    /// Print progress to stderr.
    pub progress: bool,
}

/// What one uuid's row must hold at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Session uuid.
    pub uuid: String,
    /// The greatest upload id the front returned for it.
    pub upload_id: Uuid,
    /// The unit id that upload carried.
    pub unit_id: String,
    /// The text points that upload carried.
    pub points: serde_json::Value,
    /// Uploads of this uuid that got no answer (a dropped connection, a 5xx): any of them may
    /// have landed after the last-accepted one and rightly replaced it.
    pub unanswered: Vec<Candidate>,
}

/// The content of an upload whose answer was lost.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The unit id it carried.
    pub unit_id: String,
    /// The text points it carried.
    pub points: serde_json::Value,
}

/// One mismatch, for people to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Session uuid.
    pub uuid: String,
    /// What is wrong.
    pub problem: String,
}

/// The verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Uuids checked.
    pub expected: u64,
    /// Rows holding exactly the last-accepted upload.
    pub verified: u64,
    /// Rows holding a newer upload whose answer was lost (it landed; the client saw an error).
    pub landed_unanswered: u64,
    /// Uuids with no row at the deadline.
    pub missing: u64,
    /// Rows holding another upload than the last-accepted one.
    pub wrong_version: u64,
    /// Rows holding the right upload id but other content.
    pub wrong_content: u64,
    /// Up to 20 examples.
    pub differences: Vec<Difference>,
    /// Time spent waiting and checking, seconds.
    pub waited_seconds: u64,
}

impl VerifyReport {
    /// Whether everything matched.
    pub fn ok(&self) -> bool {
        self.verified + self.landed_unanswered == self.expected
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify:      {} verified, {} newer upload whose answer was lost, {} missing, \
             {} wrong version, {} wrong content (of {}, {} s)",
            self.verified,
            self.landed_unanswered,
            self.missing,
            self.wrong_version,
            self.wrong_content,
            self.expected,
            self.waited_seconds
        )?;
        for difference in &self.differences {
            writeln!(f, "  {}: {}", difference.uuid, difference.problem)?;
        }
        Ok(())
    }
}

/// Polls until every expected row is right or the timeout passes (blocking; run it on a
/// blocking thread).
pub fn verify(
    project_id: i64,
    expected: Vec<Expected>,
    options: &VerifyOptions,
) -> Result<VerifyReport, ToolError> {
    let started = Instant::now();
    let store = Store::new(&DatabaseConfig {
        url: Secret::new(options.database_url.clone()),
        pool_size: 1,
        statement_timeout_ms: STATEMENT_TIMEOUT_MS,
        connect_timeout_ms: CONNECT_TIMEOUT_MS,
        read_url: None,
    });
    let database = |error: intake::store::StoreError| ToolError::Database(error.to_string());
    let mut conn = store.conn().map_err(database)?;
    let total = expected.len() as u64;
    let mut pending: HashMap<String, Expected> =
        expected.into_iter().map(|e| (e.uuid.clone(), e)).collect();
    let mut report = VerifyReport {
        expected: total,
        ..VerifyReport::default()
    };
    let mut last_progress = Instant::now();
    loop {
        let uuids: Vec<String> = pending.keys().cloned().collect();
        let mut latest: HashMap<String, StoredVersion> = HashMap::new();
        for chunk in uuids.chunks(CHUNK) {
            let rows = load_versions(&mut conn, project_id, chunk).map_err(database)?;
            latest.extend(rows.into_iter().map(|row| (row.uuid.clone(), row)));
        }
        for (uuid, row) in &latest {
            let Some(want) = pending.get(uuid) else {
                continue;
            };
            let settled = if row.upload_id == want.upload_id {
                if row.unit_id == want.unit_id && row.points == want.points {
                    report.verified += 1;
                } else {
                    report.wrong_content += 1;
                    note(&mut report, uuid, content_problem(row, want));
                }
                true
            } else if row.upload_id > want.upload_id {
                if want
                    .unanswered
                    .iter()
                    .any(|sent| sent.unit_id == row.unit_id && sent.points == row.points)
                {
                    report.landed_unanswered += 1;
                } else {
                    // Newer than anything loadgen sent: another writer, or the rule broke.
                    report.wrong_version += 1;
                    note(&mut report, uuid, version_problem(row, want));
                }
                true
            } else {
                false // an older upload; the last-accepted one may still be on its way
            };
            if settled {
                pending.remove(uuid);
            }
        }
        let timed_out = started.elapsed() >= options.timeout;
        if pending.is_empty() || timed_out {
            for (uuid, want) in &pending {
                match latest.get(uuid) {
                    Some(row) => {
                        report.wrong_version += 1;
                        note(&mut report, uuid, version_problem(row, want));
                    }
                    None => {
                        report.missing += 1;
                        note(
                            &mut report,
                            uuid,
                            format!("no row (expected upload {})", want.upload_id),
                        );
                    }
                }
            }
            report.waited_seconds = started.elapsed().as_secs();
            return Ok(report);
        }
        if options.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            eprintln!(
                "[verify {:>4}s] {} verified, {} pending of {total}",
                started.elapsed().as_secs(),
                report.verified,
                pending.len()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn note(report: &mut VerifyReport, uuid: &str, problem: String) {
    if report.differences.len() < MAX_DIFFERENCES {
        report.differences.push(Difference {
            uuid: uuid.to_owned(),
            problem,
        });
    }
}

fn version_problem(row: &StoredVersion, want: &Expected) -> String {
    format!(
        "holds upload {}, expected the last-accepted upload {}",
        row.upload_id, want.upload_id
    )
}

fn content_problem(row: &StoredVersion, want: &Expected) -> String {
    if row.unit_id != want.unit_id {
        format!("unit_id is {:?}, sent {:?}", row.unit_id, want.unit_id)
    } else {
        format!("points are {}, sent {}", row.points, want.points)
    }
}
