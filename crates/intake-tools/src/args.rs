//! Command-line arguments of the tools, parsed by clap; [`crate::commands`] turns them into
//! options structs. Kept here so `cli.rs` stays a list of commands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use crate::commands::{run_dlq, run_events, run_export, run_loadgen, run_replay};
use crate::dlq::Filter;
use crate::loadgen_payload::Mix;
pub use crate::purge_cmd::run_purge;
use intake::export::Format;
use intake::session::UnitId;
use intake::session::parse_unix_seconds;

/// `intake export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The project id.
    #[arg(long)]
    pub project: i64,
    /// Only sessions received at or after this unix second.
    #[arg(long, value_parser = parse_unix_seconds)]
    pub since: Option<i64>,
    /// Only sessions received at or before this unix second.
    #[arg(long, value_parser = parse_unix_seconds)]
    pub until: Option<i64>,
    /// Only sessions of this device.
    #[arg(long, value_parser = unit_id)]
    pub unit_id: Option<String>,
    /// Soft-deleted sessions too.
    #[arg(long)]
    pub deleted: bool,
    /// ndjson (the read view, file bytes inline) or csv (a column per point).
    #[arg(long, default_value = "ndjson")]
    pub format: Format,
    /// Write to FILE (complete or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

fn unit_id(text: &str) -> Result<String, String> {
    UnitId::parse(text).map(|unit| unit.as_str().to_owned())
}

/// `intake loadgen`.
#[derive(Debug, Args)]
pub struct LoadgenArgs {
    /// Base URL of the front [default: from the configuration's front.listen].
    #[arg(long)]
    pub url: Option<String>,
    /// Project id to post to.
    #[arg(long)]
    pub project: i64,
    /// API user name.
    #[arg(short, long)]
    pub username: String,
    /// The user's API secret.
    #[arg(short, long, env = "INTAKE_API_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Distinct unit ids (devices) to spread uploads over.
    #[arg(long, default_value_t = 100)]
    pub devices: u32,
    /// Open loop: requests per second on a fixed schedule (latency from the intended time).
    #[arg(long, conflicts_with = "concurrency")]
    pub rate: Option<f64>,
    /// Closed loop: requests in flight at once [default: 16 unless --rate].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Open loop: cap on requests in flight (late requests still count from their due time).
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Send for this many seconds [default: 10 unless --count].
    #[arg(long, conflicts_with = "count")]
    pub duration: Option<f64>,
    /// Send for this many seconds first without counting them; --duration follows.
    #[arg(long, default_value_t = 0.0, conflicts_with = "count")]
    pub warmup: f64,
    /// Open loop: grow the rate linearly from 0 to --rate over this many seconds from the
    /// start (warm-up included).
    #[arg(long, requires = "rate")]
    pub ramp: Option<f64>,
    /// Send this many requests.
    #[arg(long)]
    pub count: Option<u64>,
    /// Body encodings and their weights.
    #[arg(long, default_value = "json=1,form=1,multipart=1")]
    pub mix: Mix,
    /// Text points per session.
    #[arg(long, default_value_t = 10)]
    pub points: usize,
    /// Multipart file size; JSON and form bodies carry min(N, 64 KiB) of rawData.
    #[arg(long, default_value_t = 0)]
    pub attachment_bytes: usize,
    /// Share (0-1) of uploads reusing an earlier uuid of the run.
    #[arg(long, default_value_t = 0.0)]
    pub replace_ratio: f64,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Exit non-zero when more than this share (0-1) of requests failed.
    #[arg(long, default_value_t = 0.0)]
    pub max_error_rate: f64,
    /// Afterwards, wait until PostgreSQL holds every last-accepted upload.
    #[arg(long)]
    pub verify: bool,
    /// PostgreSQL for --verify [default: the configuration's].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// How long --verify waits, seconds.
    #[arg(long, default_value_t = 120)]
    pub verify_timeout: u64,
    /// Write the whole report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the run second by second as CSV: sent, accepted, failed by kind, p50/p99.
    #[arg(long, value_name = "FILE.csv")]
    pub timeseries: Option<PathBuf>,
    /// Draw latency (p50, p99) and accepted/s over time as an SVG chart.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `intake replay …`.
#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Post sessions from an NDJSON file through a front (new acceptance stamps).
    Http(ReplayHttpArgs),
    /// Publish archived queue messages (*.msgpack) to the broker (original stamps kept).
    Broker(ReplayBrokerArgs),
}

/// `intake replay http`.
#[derive(Debug, Args)]
pub struct ReplayHttpArgs {
    /// NDJSON file: one `{"project_id": N, "session": {…}}` per line, or the lines of an
    /// export (`intake export`, or the export route) with --project.
    pub file: PathBuf,
    /// Send every line to this project (required for the lines of an export).
    #[arg(long)]
    pub project: Option<i64>,
    /// Base URL of the front [default: from the configuration's front.listen].
    #[arg(long)]
    pub url: Option<String>,
    /// API user name (granted every project in the file).
    #[arg(short, long)]
    pub username: String,
    /// The user's API secret.
    #[arg(short, long, env = "INTAKE_API_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// At most this many requests a second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Validate every line; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `intake replay broker`.
#[derive(Debug, Args)]
pub struct ReplayBrokerArgs {
    /// A *.msgpack message body, or a directory of them.
    pub path: PathBuf,
    /// At most this many messages a second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Publishes awaiting their confirm at once.
    #[arg(long, default_value_t = 64)]
    pub window: usize,
    /// Decode and validate everything; publish nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `intake events …`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print stored-events as they are published, one JSON line each, until stopped.
    Tail {
        /// Only this project's events (its id).
        #[arg(long)]
        project: Option<i64>,
        /// Only events of this kind: stored, superseded, deleted or dead-lettered.
        #[arg(long)]
        kind: Option<intake::events::Kind>,
    },
}

/// `intake dlq …`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters (oldest first) without removing them.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one dead letter's headers and decoded session.
    Show {
        /// Its upload id (AMQP message id).
        upload_id: String,
        /// Also write its raw body to DIR/<upload-id>.msgpack (for `intake replay broker`).
        #[arg(long, value_name = "DIR")]
        save: Option<PathBuf>,
    },
    /// Republish matching dead letters to the main exchange, then remove them.
    Requeue {
        /// Which messages.
        #[command(flatten)]
        filter: FilterArgs,
        /// Show what would be taken; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete matching dead letters.
    Purge {
        /// Which messages.
        #[command(flatten)]
        filter: FilterArgs,
        /// Show what would be taken; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Which dead letters; at least one is required so nothing is taken by accident.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct FilterArgs {
    /// Every message.
    #[arg(long)]
    pub all: bool,
    /// The message with this upload id.
    #[arg(long)]
    pub upload_id: Option<String>,
    /// Messages whose reason contains this text.
    #[arg(long)]
    pub reason_contains: Option<String>,
    /// Messages of this project.
    #[arg(long)]
    pub project: Option<i64>,
}

impl From<FilterArgs> for Filter {
    fn from(args: FilterArgs) -> Self {
        Self {
            all: args.all,
            upload_id: args.upload_id,
            reason_contains: args.reason_contains,
            project_id: args.project,
        }
    }
}

/// `intake purge`: what to purge (at least one of `--deleted`, `--before`,
/// `--tombstones-before`, `--retention`), and the confirmation.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The project [with --retention, every project when left out].
    #[arg(long, required_unless_present = "retention")]
    pub project: Option<i64>,
    /// Soft-deleted sessions (with --before: those deleted before TIME).
    #[arg(long)]
    pub deleted: bool,
    /// Sessions received before TIME, deleted or not (RFC 3339, YYYY-MM-DD or unix seconds).
    #[arg(long, value_name = "TIME", value_parser = crate::purge::parse_time)]
    pub before: Option<chrono::DateTime<chrono::Utc>>,
    /// Also delete tombstones left before TIME; an upload accepted before such a purge can
    /// then bring its session back.
    #[arg(long, value_name = "TIME", value_parser = crate::purge::parse_time)]
    pub tombstones_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Soft-deleted sessions deleted more than retention.deleted_days ago (for cron).
    #[arg(long, conflicts_with_all = ["deleted", "before"])]
    pub retention: bool,
    /// Count what would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm the deletion, which cannot be undone (required unless --dry-run).
    #[arg(long)]
    pub yes: bool,
    /// Rows per transaction: small keeps each lock short.
    #[arg(long, default_value_t = 1000)]
    pub batch: i64,
    /// No progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}
