//! What `intake loadgen` measured: counts, throughput and latency percentiles from an HDR
//! histogram (exact to three significant digits at any scale, so the tail is trustworthy),
//! printable for people and serializable for `--json`.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::loadgen_timeseries::Second;
use crate::loadgen_verify::VerifyReport;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Requests measured (every request that got an HTTP response, whatever its status).
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Summarises a histogram recorded in microseconds.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            mean: histogram.mean() / 1000.0,
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// The whole result of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadgenReport {
    /// The front's base URL the requests went to.
    pub url: String,
    /// How load was offered, e.g. `open loop, 500/s` or `closed loop, 64 in flight`.
    pub mode: String,
    /// From the first scheduled send to the last response, seconds.
    pub elapsed_seconds: f64,
    /// Requests started.
    pub sent: u64,
    /// Requests answered 2xx with an upload id: durable uploads.
    pub accepted: u64,
    /// Requests that were not accepted (non-2xx or no usable response).
    pub failed: u64,
    /// Non-2xx responses by status code.
    pub failed_by_status: BTreeMap<u16, u64>,
    /// Requests without a usable response, by kind (timeout, connect, …).
    pub transport_errors: BTreeMap<String, u64>,
    /// Accepted uploads per second over the run.
    pub throughput_per_second: f64,
    /// Distinct session uuids among accepted uploads (less than `accepted` with replacements).
    pub distinct_uuids: u64,
    /// Uploads per encoding.
    pub sent_by_encoding: BTreeMap<String, u64>,
    /// Response latency, measured from the *intended* send time in open-loop mode (so a
    /// stalled server is charged for the requests it kept waiting: no coordinated omission).
    pub latency_ms: Latency,
    /// The database check, with `--verify`.
    pub verify: Option<VerifyReport>,
    /// The run second by second, with `--timeseries` or `--plot`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeseries: Vec<Second>,
}

impl LoadgenReport {
    /// Whether every request was accepted and, if verified, every upload landed correctly.
    pub fn is_clean(&self) -> bool {
        self.failed == 0 && self.verify.as_ref().is_none_or(VerifyReport::ok)
    }
}

impl fmt::Display for LoadgenReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "front:       {}", self.url)?;
        writeln!(f, "mode:        {}", self.mode)?;
        writeln!(f, "elapsed:     {:.2} s", self.elapsed_seconds)?;
        writeln!(f, "sent:        {}", self.sent)?;
        writeln!(
            f,
            "accepted:    {} ({} distinct uuids)",
            self.accepted, self.distinct_uuids
        )?;
        writeln!(f, "failed:      {}", self.failed)?;
        for (status, count) in &self.failed_by_status {
            writeln!(f, "  HTTP {status}: {count}")?;
        }
        for (kind, count) in &self.transport_errors {
            writeln!(f, "  {kind}: {count}")?;
        }
        let mix: Vec<String> = self
            .sent_by_encoding
            .iter()
            .map(|(name, count)| format!("{name} {count}"))
            .collect();
        writeln!(f, "encodings:   {}", mix.join(", "))?;
        writeln!(
            f,
            "throughput:  {:.1} accepted/s",
            self.throughput_per_second
        )?;
        let l = &self.latency_ms;
        writeln!(
            f,
            "latency ms:  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (mean {:.2}, n={})",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean, l.count
        )?;
        if let Some(verify) = &self.verify {
            write!(f, "{verify}")?;
        }
        Ok(())
    }
}
