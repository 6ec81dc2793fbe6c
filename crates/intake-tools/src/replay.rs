//! `intake replay`: puts archived uploads back into the pipeline.
//!
//! Two sources, two guarantees:
//! - [`replay_http`] posts sessions from an NDJSON file (`{"project_id": N, "session": {…}}`
//!   a line, or the lines of an export sent to `--project`) through a front, signed like a
//!   device. Each post is a *new* upload with a new
//!   acceptance stamp, so it replaces whatever the row holds: the content is stored again
//!   identically (given the session carries its uuid, `created` and `saved`), but the
//!   row's `upload_id` and `received` change, and it overwrites uploads accepted since.
//! - [`replay_broker`] publishes raw queue message bodies (`*.msgpack`, each one
//!   [`Upload::encode`](intake::wire::Upload::encode) body, as `intake dlq show --save` writes
//!   them; a group message's file replays as its uploads, one message each) straight to the
//!   exchange. They keep their original stamps, so the consumer's
//!   acceptance-order rule makes replays idempotent: replaying an archive twice leaves the
//!   database unchanged the second time, and an old archive never clobbers newer data.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

pub use crate::replay_broker::replay_broker;
pub use crate::replay_http::replay_http;
use intake::config::BrokerConfig;
use intake::session::Limits;

/// Options of an NDJSON replay through a front.
#[derive(Debug, Clone)]
pub struct HttpReplayOptions {
    /// The NDJSON file: archive lines, or the lines of an export.
    pub file: PathBuf,
    /// Send every line to this project (an export's lines name none).
    pub project: Option<i64>,
    /// Base URL of the front.
    pub url: String,
    /// API user to sign with (must be granted every project in the file).
    pub username: String,
    /// Its API secret.
    pub secret: String,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// At most this many requests a second.
    pub rate: Option<f64>,
    /// Validate every line with the session rules; send nothing.
    pub dry_run: bool,
    /// Limits for the dry run's validation (the front applies its own when sending).
    pub limits: Limits,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Print progress to stderr.
    pub progress: bool,
}

/// Options of a message-archive replay to the broker.
#[derive(Debug, Clone)]
pub struct BrokerReplayOptions {
    /// A `*.msgpack` file, or a directory of them (replayed in file-name order).
    pub path: PathBuf,
    /// Broker URL and exchange.
    pub broker: BrokerConfig,
    /// Limits to validate bodies with before publishing.
    pub limits: Limits,
    /// At most this many messages a second.
    pub rate: Option<f64>,
    /// Publishes awaiting their confirm at once.
    pub window: usize,
    /// Decode and validate everything; publish nothing.
    pub dry_run: bool,
    /// Print progress to stderr.
    pub progress: bool,
}

/// What a replay did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayReport {
    /// What was replayed, for the summary line.
    pub source: String,
    /// Whether nothing was sent.
    pub dry_run: bool,
    /// Records read (lines, or files; a file holding a group message counts its uploads).
    pub read: u64,
    /// Records that passed local checks (in a dry run: would be sent).
    pub valid: u64,
    /// Records sent to the front or the broker.
    pub sent: u64,
    /// Records the front answered 2xx, or the broker confirmed.
    pub accepted: u64,
    /// Records not accepted, by reason.
    pub failed: BTreeMap<String, u64>,
    /// The first few failures in detail (`line 12: …`, `file x.msgpack: …`).
    pub examples: Vec<String>,
    /// Seconds taken.
    pub elapsed_seconds: f64,
}

impl ReplayReport {
    /// Records failed in all.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dry = if self.dry_run { " (dry run)" } else { "" };
        writeln!(f, "replay of {}{dry}", self.source)?;
        writeln!(f, "read:      {}", self.read)?;
        writeln!(f, "valid:     {}", self.valid)?;
        writeln!(f, "sent:      {}", self.sent)?;
        writeln!(f, "accepted:  {}", self.accepted)?;
        writeln!(f, "failed:    {}", self.failed_total())?;
        for (reason, count) in &self.failed {
            writeln!(f, "  {reason}: {count}")?;
        }
        for example in &self.examples {
            writeln!(f, "  e.g. {example}")?;
        }
        writeln!(f, "elapsed:   {:.2} s", self.elapsed_seconds)
    }
}

/// Counters shared by a replay's tasks and its progress line.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) read: AtomicU64,
    pub(super) valid: AtomicU64,
    pub(super) sent: AtomicU64,
    pub(super) accepted: AtomicU64,
    failures: Mutex<(BTreeMap<String, u64>, Vec<String>)>,
}

/// Failure details kept for the report.
const MAX_EXAMPLES: usize = 10;

impl Tally {
    /// Counts one failure under `reason`, keeping `detail` among the first few examples.
    pub(super) fn fail(&self, reason: impl Into<String>, detail: impl FnOnce() -> String) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        *failures.0.entry(reason.into()).or_default() += 1;
        if failures.1.len() < MAX_EXAMPLES {
            failures.1.push(detail());
        }
    }

    /// Counts failures so far.
    pub(super) fn failed(&self) -> u64 {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.0.values().sum()
    }

    /// One progress line.
    pub(super) fn line(&self, elapsed: Duration) -> String {
        format!(
            "[{:>4}s] read {}  sent {}  accepted {}  failed {}",
            elapsed.as_secs(),
            self.read.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
            self.accepted.load(Ordering::Relaxed),
            self.failed()
        )
    }

    /// The final report.
    pub(super) fn report(&self, source: String, dry_run: bool, elapsed: Duration) -> ReplayReport {
        let (failed, examples) = self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ReplayReport {
            source,
            dry_run,
            read: self.read.load(Ordering::Relaxed),
            valid: self.valid.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            failed,
            examples,
            elapsed_seconds: elapsed.as_secs_f64(),
        }
    }
}
