//! The tool shed beside the service: the `intake` admin command ([`cli`]), the operators'
//! tools behind `intake loadgen`, `intake replay`, `intake dlq` and `intake export`, and the
//! stage measurements of `make bench` ([`bench`], run by `intake-bench`).
//!
//! A crate of its own so that the service binaries (`intake-front`, `intake-consumer`) and
//! the `intake` library build none of it: the tools use the library as any client would.
//!
//! Each tool is a library function taking an explicit options struct and returning a report,
//! so tests drive them with a test's own configuration and the CLI ([`args`]) only parses
//! arguments into those structs. Progress goes to stderr ([`progress`]); reports implement
//! `Display` for people and `Serialize` for machines.

pub mod accounts;
pub mod args;
pub mod bench;
pub mod cli;
mod commands;
pub mod config_cmd;
pub mod console;
pub mod dlq;
mod dlq_collect;
mod dlq_entry;
mod dlq_group;
mod dlq_show;
mod dlq_table;
pub mod events_tail;
pub mod export;
mod export_output;
pub mod loadgen;
pub mod loadgen_options;
pub mod loadgen_payload;
pub mod loadgen_plot;
pub mod loadgen_report;
pub mod loadgen_timeseries;
pub mod loadgen_verify;
mod loadgen_worker;
pub mod progress;
pub mod purge;
mod purge_cmd;
pub mod replay;
mod replay_broker;
mod replay_export;
mod replay_http;
mod replay_pace;
pub mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use intake::broker::PublishError;

/// Why a tool could not do its job at all (as opposed to individual requests or messages
/// failing, which the reports count).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The options contradict each other or are out of range.
    #[error("{0}")]
    Options(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// RabbitMQ refused the connection, a channel or an operation.
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    /// A confirmed publish failed.
    #[error("RabbitMQ: {0}")]
    Publish(#[from] PublishError),
    /// PostgreSQL could not be reached or queried.
    #[error("PostgreSQL: {0}")]
    Database(String),
    /// A worker task died.
    #[error("task failed: {0}")]
    Task(String),
}

impl ToolError {
    /// Wraps an I/O error with the path it concerns, so the message says which file.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Fixed-interval schedule for open-loop sending: the `n`-th send is due `n / rate` seconds
/// after the start, whatever happened to earlier ones.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: tokio::time::Instant,
    interval_seconds: f64,
}

impl Schedule {
    /// A schedule of `per_second` sends a second starting now; `None` for a rate that is
    /// not a positive finite number.
    pub fn new(per_second: f64) -> Option<Self> {
        if !(per_second.is_finite() && per_second > 0.0) {
            return None;
        }
        Some(Self {
            start: tokio::time::Instant::now(),
            interval_seconds: 1.0 / per_second,
        })
    }

    /// When send number `n` (from 0) is due. Computed from the start each time, so rounding
    /// never accumulates into drift.
    pub fn due(&self, n: u64) -> tokio::time::Instant {
        const FAR: Duration = Duration::from_secs(365 * 86_400);
        Duration::try_from_secs_f64(n as f64 * self.interval_seconds)
            .ok()
            .and_then(|offset| self.start.checked_add(offset.min(FAR)))
            .unwrap_or(self.start + FAR)
    }

    /// Waits until send number `n` is due.
    pub async fn wait(&self, n: u64) {
        tokio::time::sleep_until(self.due(n)).await;
    }
}

/// The reason key for a failed HTTP exchange with no response: short and countable.
pub fn transport_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else if error.is_body() || error.is_decode() {
        "body".into()
    } else if error.is_request() {
        "request".into()
    } else {
        "transport".into()
    }
}

/// Adds MDA auth headers for `username` signed now, as a device would.
pub fn sign(
    request: reqwest::RequestBuilder,
    username: &str,
    secret: &str,
) -> reqwest::RequestBuilder {
    let now = chrono::Utc::now().timestamp();
    intake::auth::headers(username, secret, now)
        .into_iter()
        .fold(request, |request, (name, value)| {
            request.header(name, value)
        })
}
