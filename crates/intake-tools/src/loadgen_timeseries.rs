//! `intake loadgen --timeseries FILE.csv`: the run second by second. Each request counts in
//! the second it was *due* (its intended send time, as its latency is measured from), so a
//! stall shows as the seconds whose requests waited, not as the second they finally ended.

use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::ToolError;

/// A latency histogram in microseconds, from 1 µs to one hour, three significant digits.
pub fn new_histogram() -> Result<Histogram<u64>, ToolError> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .map_err(|error| ToolError::Options(format!("latency histogram: {error:?}")))
}

/// How one request ended, for its second's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// 2xx with an upload id.
    Accepted,
    /// A non-2xx status.
    Status(u16),
    /// No response: timeout.
    Timeout,
    /// No response: connection failed.
    Connect,
    /// No response, or an unusable one, otherwise.
    Other,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Second {
    /// Seconds since the start (requests due in [second, second + 1)).
    pub second: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests accepted.
    pub accepted: u64,
    /// Answered 4xx.
    pub failed_4xx: u64,
    /// Answered 5xx (and any other non-2xx).
    pub failed_5xx: u64,
    /// Timed out without a response.
    pub failed_timeout: u64,
    /// Could not connect.
    pub failed_connect: u64,
    /// Other transport failures.
    pub failed_other: u64,
    /// Median latency of the requests answered, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// The recorder the workers share.
#[derive(Default)]
pub struct Recorder {
    seconds: Mutex<Vec<(Second, Option<Histogram<u64>>)>>,
}

impl Recorder {
    /// Counts one request due `since_start` after the start.
    pub fn record(&self, since_start: Duration, ended: Ended, latency: Option<Duration>) {
        let index = usize::try_from(since_start.as_secs()).unwrap_or(usize::MAX);
        let mut seconds = self.seconds.lock().unwrap_or_else(PoisonError::into_inner);
        if index >= seconds.len() {
            if index > 86_400 * 7 {
                return;
            }
            seconds.resize_with(index + 1, Default::default);
        }
        let (second, histogram) = &mut seconds[index];
        second.sent += 1;
        match ended {
            Ended::Accepted => second.accepted += 1,
            Ended::Status(status) if (400..500).contains(&status) => second.failed_4xx += 1,
            Ended::Status(_) => second.failed_5xx += 1,
            Ended::Timeout => second.failed_timeout += 1,
            Ended::Connect => second.failed_connect += 1,
            Ended::Other => second.failed_other += 1,
        }
        if let Some(latency) = latency {
            if histogram.is_none() {
                *histogram = new_histogram().ok();
            }
            if let Some(histogram) = histogram {
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                histogram.saturating_record(micros.max(1));
            }
        }
    }

    /// The seconds so far, with their percentiles.
    pub fn seconds(&self) -> Vec<Second> {
        let seconds = self.seconds.lock().unwrap_or_else(PoisonError::into_inner);
        seconds
            .iter()
            .enumerate()
            .map(|(index, (second, histogram))| {
                let ms = |q: f64| {
                    histogram
                        .as_ref()
                        .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
                };
                Second {
                    second: index as u64,
                    p50_ms: ms(0.50),
                    p99_ms: ms(0.99),
                    ..second.clone()
                }
            })
            .collect()
    }
}

/// The seconds as CSV, one header line and one line a second.
pub fn csv(seconds: &[Second]) -> String {
    let mut text = String::from(
        "second,sent,accepted,failed_4xx,failed_5xx,failed_timeout,failed_connect,\
         failed_other,p50_ms,p99_ms\n",
    );
    for s in seconds {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{:.3},{:.3}",
            s.second,
            s.sent,
            s.accepted,
            s.failed_4xx,
            s.failed_5xx,
            s.failed_timeout,
            s.failed_connect,
            s.failed_other,
            s.p50_ms,
            s.p99_ms
        );
    }
    text
}
