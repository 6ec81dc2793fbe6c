//! The overview's memory: every 2 s the console scrapes the front's and the consumer's
//! metrics, reads the queue depths and probes readiness, and keeps 15 minutes of samples.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::State;
use super::metrics_text::{Scrape, quantile};
use super::probes::{self, Broker, Readiness};

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Samples kept: 15 minutes.
pub const KEPT: usize = 15 * 60 / 2;
/// The latency quantiles cover the accepts of about the last 30 s.
const LATENCY_SAMPLES: usize = 15;

/// One point of the overview's plots.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Uploads the front accepted per second since the previous sample.
    pub accepted_per_s: Option<f64>,
    /// Uploads the consumer stored per second.
    pub stored_per_s: Option<f64>,
    /// Uploads the consumer dead-lettered per second.
    pub dead_lettered_per_s: Option<f64>,
    /// Messages waiting in each partition queue.
    pub depth: Vec<Option<u32>>,
}

/// The services' readiness at the last sample.
#[derive(Debug, Clone, Serialize)]
pub struct ReadinessSet {
    /// The HTTP front.
    pub front: Readiness,
    /// The queue consumer.
    pub consumer: Readiness,
    /// RabbitMQ.
    pub rabbitmq: Readiness,
    /// PostgreSQL.
    pub postgresql: Readiness,
}

impl Default for ReadinessSet {
    fn default() -> Self {
        let unknown = || Readiness::not("not probed yet");
        Self {
            front: unknown(),
            consumer: unknown(),
            rabbitmq: unknown(),
            postgresql: unknown(),
        }
    }
}

/// Accept latency quantiles in milliseconds (`None` without recent accepts).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

#[derive(Default)]
struct Ring {
    samples: VecDeque<Sample>,
    buckets: VecDeque<Vec<(f64, f64)>>,
    readiness: ReadinessSet,
    latency: Latency,
}

/// The ring of samples, shared with the handlers.
#[derive(Default)]
pub struct Samples(Mutex<Ring>);

/// What /api/overview answers.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Seconds between samples.
    pub interval_seconds: u64,
    /// Readiness now.
    pub readiness: ReadinessSet,
    /// Accept latency now.
    pub latency: Latency,
    /// Oldest first.
    pub samples: Vec<Sample>,
}

impl Samples {
    /// A copy of everything.
    pub fn snapshot(&self) -> Snapshot {
        let ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Snapshot {
            interval_seconds: INTERVAL.as_secs(),
            readiness: ring.readiness.clone(),
            latency: ring.latency.clone(),
            samples: ring.samples.iter().cloned().collect(),
        }
    }

    fn push(&self, sample: Sample, buckets: Vec<(f64, f64)>, readiness: ReadinessSet) {
        let mut ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let earlier = ring
            .buckets
            .iter()
            .rev()
            .nth(LATENCY_SAMPLES.saturating_sub(1))
            .or(ring.buckets.front())
            .cloned()
            .unwrap_or_default();
        let ms = |q| quantile(&buckets, &earlier, q).map(|seconds| seconds * 1000.0);
        ring.latency = Latency {
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
        };
        ring.samples.push_back(sample);
        ring.buckets.push_back(buckets);
        while ring.samples.len() > KEPT {
            ring.samples.pop_front();
        }
        while ring.buckets.len() > LATENCY_SAMPLES {
            ring.buckets.pop_front();
        }
        ring.readiness = readiness;
    }
}

/// Counter totals of one scrape, to diff against the next.
#[derive(Default, Clone, Copy)]
struct Totals {
    accepted: Option<f64>,
    stored: Option<f64>,
    dead_lettered: Option<f64>,
}

fn rate(now: Option<f64>, before: Option<f64>, seconds: f64) -> Option<f64> {
    // A restarted service starts its counters over: count from zero then.
    let (now, before) = (now?, before?);
    let delta = if now >= before { now - before } else { now };
    Some(delta / seconds.max(0.001))
}

/// Samples until `cancel`.
pub async fn run(state: State, cancel: CancellationToken) {
    let http = reqwest::Client::new();
    let mut broker = Broker::default();
    let mut previous: Option<(Instant, Totals)> = None;
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let console = &state.config.console;
        let (front, consumer, front_ready, consumer_ready, postgresql, (depth, rabbitmq)) = tokio::join!(
            probes::scrape(&http, &console.front_metrics_url),
            probes::scrape(&http, &console.consumer_metrics_url),
            probes::http_ready(&http, &console.front_ready_url),
            probes::http_ready(&http, &console.consumer_ready_url),
            probes::database_ready(&state.store),
            broker.depths(&state.config),
        );
        let now = Instant::now();
        let totals = Totals {
            accepted: front
                .as_ref()
                .map(|s| s.sum("intake_accept_seconds_count", None).unwrap_or(0.0)),
            stored: consumer.as_ref().map(|s| outcome(s, "stored")),
            dead_lettered: consumer.as_ref().map(|s| outcome(s, "dead_lettered")),
        };
        let (accepted_per_s, stored_per_s, dead_lettered_per_s) = match previous {
            Some((then, before)) => {
                let seconds = now.duration_since(then).as_secs_f64();
                (
                    rate(totals.accepted, before.accepted, seconds),
                    rate(totals.stored, before.stored, seconds),
                    rate(totals.dead_lettered, before.dead_lettered, seconds),
                )
            }
            None => (None, None, None),
        };
        previous = Some((now, totals));
        let buckets = front
            .as_ref()
            .map(|s| s.buckets("intake_accept_seconds"))
            .unwrap_or_default();
        let sample = Sample {
            at_ms: chrono::Utc::now().timestamp_millis(),
            accepted_per_s,
            stored_per_s,
            dead_lettered_per_s,
            depth,
        };
        let readiness = ReadinessSet {
            front: front_ready,
            consumer: consumer_ready,
            rabbitmq,
            postgresql,
        };
        state.samples.push(sample, buckets, readiness);
    }
}

fn outcome(scrape: &Scrape, label: &str) -> f64 {
    scrape
        .sum("intake_uploads_total", Some(("outcome", label)))
        .unwrap_or(0.0)
}
