//! What a loadgen run is asked to do: the pace, when to stop, and the rest of its options.

use std::time::Duration;

use crate::loadgen_payload::Mix;
use crate::loadgen_verify::VerifyOptions;

/// How load is offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Open loop: `per_second` requests a second on a fixed schedule, at most
    /// `max_in_flight` at once (late ones still count from their due time).
    Rate {
        /// Requests per second.
        per_second: f64,
        /// Cap on concurrent requests.
        max_in_flight: usize,
    },
    /// Closed loop: this many requests in flight at all times.
    Concurrency(usize),
}

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Stop sending after this long.
    Duration(Duration),
    /// Stop after this many requests.
    Count(u64),
}

/// Everything a run needs; the CLI parses arguments into this.
#[derive(Debug, Clone)]
pub struct LoadgenOptions {
    /// Base URL of the front, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Project to post to (the user must be granted it).
    pub project_id: i64,
    /// API user name.
    pub username: String,
    /// The user's API secret.
    pub secret: String,
    /// Distinct unit ids to spread uploads over.
    pub devices: u32,
    /// Open or closed loop.
    pub pace: Pace,
    /// Duration or count.
    pub limit: Limit,
    /// Weights of JSON, urlencoded and multipart bodies.
    pub mix: Mix,
    /// Text points per session.
    pub points: usize,
    /// Multipart file size; JSON and form bodies carry `min(N, 64 KiB)` of rawData.
    pub attachment_bytes: usize,
    /// Share of uploads (0–1) that reuse an earlier uuid of this run, replacing it.
    pub replace_ratio: f64,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Check the database afterwards.
    pub verify: Option<VerifyOptions>,
    /// Sent first and not counted: connection set-up and cold caches stay out of the
    /// figures (the uploads are still verified); the duration starts after it.
    pub warmup: Duration,
    /// Open loop: the rate grows linearly from 0 over this long (part of the duration).
    pub ramp: Option<Duration>,
    /// Keep per-second counts and percentiles (`--timeseries`, `--plot`).
    pub timeseries: bool,
    /// Print a progress line to stderr every second.
    pub progress: bool,
}
