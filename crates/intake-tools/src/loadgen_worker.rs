//! The workers of `intake loadgen` and their shared state: each takes the next sequence
//! number, waits for its due time (open loop), builds and signs a body, sends it, and records
//! the latency and outcome.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::time::Instant;
use uuid::Uuid;

use crate::loadgen_options::{Limit, LoadgenOptions, Pace};
use crate::loadgen_payload::{Encoding, Fill, Templates};
use crate::loadgen_timeseries::{Ended, Recorder, new_histogram};
use crate::progress::Ticker;
use crate::{Schedule, ToolError, sign, transport_reason};
use intake::view::UPLOAD_ID_HEADER;

/// The accepted upload with the greatest upload id per uuid key, as verification needs it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Accepted {
    pub(super) upload_id: Uuid,
    pub(super) seq: u64,
    pub(super) device: u32,
}

/// State shared by the workers.
pub(super) struct Fleet {
    pub(super) options: LoadgenOptions,
    pub(super) templates: Templates,
    pub(super) client: reqwest::Client,
    pub(super) endpoint: String,
    pub(super) run_id: String,
    pub(super) schedule: Option<Schedule>,
    pub(super) start: Instant,
    pub(super) next_seq: AtomicU64,
    pub(super) next_key: AtomicU64,
    pub(super) sent: AtomicU64,
    pub(super) accepted: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) histogram: Mutex<Histogram<u64>>,
    pub(super) failures: Mutex<(BTreeMap<u16, u64>, BTreeMap<String, u64>)>,
    pub(super) encodings: [AtomicU64; 3],
    /// Per-second counts, with `--timeseries` or `--plot`.
    pub(super) timeseries: Option<Recorder>,
}

/// A send whose answer never came (transport error, 5xx): it may still have landed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unanswered {
    pub(super) seq: u64,
    pub(super) device: u32,
}

/// What a worker hands back when it stops: its newest accepted upload per uuid key, and the
/// sends it does not know the fate of.
#[derive(Default)]
struct WorkerResult {
    newest: HashMap<u64, Accepted>,
    unanswered: Vec<(u64, Unanswered)>,
}

/// What the workers did together.
pub(super) struct Outcome {
    pub(super) newest: HashMap<u64, Accepted>,
    pub(super) unanswered: HashMap<u64, Vec<Unanswered>>,
    pub(super) elapsed: Duration,
}

/// How one send ended.
enum Sent {
    Accepted(Uuid),
    /// A 4xx: the front refused it, nothing was published.
    Refused,
    /// No answer or a 5xx: published or not, the client cannot tell.
    Unanswered,
}

impl Fleet {
    /// Prepares the templates, the HTTP client and the counters.
    pub(super) fn new(options: LoadgenOptions) -> Result<Arc<Self>, ToolError> {
        let client = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .pool_max_idle_per_host(4096)
            .build()?;
        let schedule = match options.pace {
            Pace::Rate { per_second, .. } => Schedule::new(per_second),
            Pace::Concurrency(_) => None,
        };
        Ok(Arc::new(Self {
            endpoint: format!(
                "{}/api/v1/projects/{}/sessions",
                options.url.trim_end_matches('/'),
                options.project_id
            ),
            templates: Templates::new(options.points, options.attachment_bytes),
            run_id: format!("{:08x}", rand::random::<u32>()),
            client,
            schedule,
            start: Instant::now(),
            next_seq: AtomicU64::new(0),
            next_key: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            histogram: Mutex::new(new_histogram()?),
            failures: Mutex::default(),
            encodings: Default::default(),
            timeseries: options.timeseries.then(Recorder::default),
            options,
        }))
    }

    /// Runs `workers` workers to the end of the run, with a progress line if asked.
    pub(super) async fn drive(self: &Arc<Self>, workers: usize) -> Result<Outcome, ToolError> {
        let ticker = progress_ticker(self);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            tasks.spawn(worker(Arc::clone(self)));
        }
        let mut newest: HashMap<u64, Accepted> = HashMap::new();
        let mut unanswered: HashMap<u64, Vec<Unanswered>> = HashMap::new();
        while let Some(joined) = tasks.join_next().await {
            let result = joined.map_err(|error| ToolError::Task(error.to_string()))?;
            for (key, upload) in result.newest {
                keep_newest(&mut newest, key, upload);
            }
            for (key, send) in result.unanswered {
                unanswered.entry(key).or_default().push(send);
            }
        }
        let elapsed = self.start.elapsed().saturating_sub(self.warmup());
        ticker.stop().await;
        Ok(Outcome {
            newest,
            unanswered,
            elapsed,
        })
    }
}

fn keep_newest(newest: &mut HashMap<u64, Accepted>, key: u64, upload: Accepted) {
    let entry = newest.entry(key).or_insert(upload);
    if upload.upload_id > entry.upload_id {
        *entry = upload;
    }
}

pub(super) fn uuid_for(run_id: &str, key: u64) -> String {
    format!("lg-{run_id}-{key}")
}

pub(super) fn unit_for(device: u32) -> String {
    format!("loadgen-unit-{device}")
}

async fn worker(shared: Arc<Fleet>) -> WorkerResult {
    let mut rng = StdRng::from_entropy();
    let mut result = WorkerResult::default();
    let options = &shared.options;
    loop {
        let seq = shared.next_seq.fetch_add(1, Ordering::Relaxed);
        let due = shared.due(seq);
        let over = match (options.limit, options.pace) {
            (Limit::Count(count), _) => seq >= count,
            // Warm-up and ramp shift the sends: the run ends when the next one is due late.
            (Limit::Duration(length), _)
                if shared.options.ramp.is_some() || shared.warmup() > Duration::ZERO =>
            {
                due.saturating_duration_since(shared.start) >= shared.warmup() + length
            }
            // Exactly the sends due before the end: n / rate < length.
            (Limit::Duration(length), Pace::Rate { per_second, .. }) => {
                seq as f64 >= (length.as_secs_f64() * per_second - 1e-9).ceil()
            }
            (Limit::Duration(length), Pace::Concurrency(_)) => {
                due.duration_since(shared.start) >= length
            }
        };
        if over {
            return result;
        }
        if shared.schedule.is_some() {
            tokio::time::sleep_until(due).await;
        }
        let issued = shared.next_key.load(Ordering::Relaxed);
        let key = if issued > 0 && rng.gen_bool(options.replace_ratio) {
            rng.gen_range(0..issued)
        } else {
            shared.next_key.fetch_add(1, Ordering::Relaxed)
        };
        let device = rng.gen_range(0..options.devices);
        let encoding = options.mix.pick(rng.r#gen());
        match send(&shared, key, device, seq, encoding, due).await {
            Sent::Accepted(upload_id) => keep_newest(
                &mut result.newest,
                key,
                Accepted {
                    upload_id,
                    seq,
                    device,
                },
            ),
            Sent::Unanswered => result.unanswered.push((key, Unanswered { seq, device })),
            Sent::Refused => {}
        }
    }
}

/// Sends one upload and tells how it ended.
async fn send(
    shared: &Fleet,
    key: u64,
    device: u32,
    seq: u64,
    encoding: Encoding,
    due: Instant,
) -> Sent {
    let uuid = uuid_for(&shared.run_id, key);
    let unit_id = unit_for(device);
    let fill = Fill {
        uuid: &uuid,
        unit_id: &unit_id,
        seq,
        now: chrono::Utc::now().timestamp(),
    };
    let (content_type, body) = shared.templates.body(encoding, &fill);
    let request = shared
        .client
        .post(&shared.endpoint)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    let request = sign(request, &shared.options.username, &shared.options.secret);
    let measured = shared.measured(due);
    if measured {
        shared.sent.fetch_add(1, Ordering::Relaxed);
        shared.encodings[encoding as usize].fetch_add(1, Ordering::Relaxed);
    }
    let mut latency = None;
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let upload_id = response
                .headers()
                .get(UPLOAD_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| Uuid::parse_str(text).ok());
            // Read the body so the connection goes back to the pool.
            let body = response.bytes().await;
            latency = Some(due.elapsed());
            if measured {
                record_latency(shared, due.elapsed());
            }
            match (body, status.is_success(), upload_id) {
                (Err(error), _, _) => Err(transport_reason(&error)),
                (Ok(_), true, Some(upload_id)) => Ok(upload_id),
                (Ok(_), true, None) => Err(format!("HTTP {status} without X-Upload-Id")),
                (Ok(_), false, _) => {
                    if measured {
                        record_failure(shared, Some(status.as_u16()), None);
                    }
                    record_second(shared, due, Ended::Status(status.as_u16()), latency);
                    return if status.is_server_error() {
                        Sent::Unanswered
                    } else {
                        Sent::Refused
                    };
                }
            }
        }
        Err(error) => Err(transport_reason(&error)),
    };
    match outcome {
        Ok(upload_id) => {
            if measured {
                shared.accepted.fetch_add(1, Ordering::Relaxed);
            }
            record_second(shared, due, Ended::Accepted, latency);
            Sent::Accepted(upload_id)
        }
        Err(kind) => {
            let ended = match kind.as_str() {
                "timeout" => Ended::Timeout,
                "connect" => Ended::Connect,
                _ => Ended::Other,
            };
            if measured {
                record_failure(shared, None, Some(kind));
            }
            record_second(shared, due, ended, latency);
            Sent::Unanswered
        }
    }
}

fn record_second(shared: &Fleet, due: Instant, ended: Ended, latency: Option<Duration>) {
    if let Some(recorder) = shared.timeseries.as_ref().filter(|_| shared.measured(due)) {
        let since = due.saturating_duration_since(shared.start + shared.warmup());
        recorder.record(since, ended, latency);
    }
}

impl Fleet {
    /// The warm-up: sent, not counted.
    pub(super) fn warmup(&self) -> Duration {
        self.options.warmup
    }

    /// Whether a request due then counts (it is past the warm-up).
    fn measured(&self, due: Instant) -> bool {
        // Without a warm-up everything counts (the schedule's start is a hair before ours).
        self.warmup().is_zero() || due >= self.start + self.warmup()
    }

    /// When send `seq` is due: now (closed loop), on the schedule, or on the ramp.
    fn due(&self, seq: u64) -> Instant {
        match (self.schedule, self.options.pace, self.options.ramp) {
            (None, ..) => Instant::now(),
            (Some(_), Pace::Rate { per_second, .. }, Some(ramp)) => {
                self.start + ramp_offset(seq, per_second, ramp)
            }
            (Some(schedule), ..) => schedule.due(seq),
        }
    }
}

/// When send `n` is due on a linear ramp from 0 to `rate` over `ramp`, then at `rate`:
/// N(t) = rate·t²/(2·ramp) during the ramp, so t = √(2·ramp·n/rate).
pub(super) fn ramp_offset(n: u64, rate: f64, ramp: Duration) -> Duration {
    let (n, length) = (n as f64, ramp.as_secs_f64());
    let in_ramp = rate * length / 2.0;
    let seconds = if n <= in_ramp {
        (2.0 * length * n / rate).sqrt()
    } else {
        length + (n - in_ramp) / rate
    };
    // About a year: far enough to mean never, near enough not to overflow an Instant.
    Duration::try_from_secs_f64(seconds)
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs(31_536_000))
}

fn record_latency(shared: &Fleet, latency: Duration) {
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    shared
        .histogram
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .saturating_record(micros.max(1));
}

fn record_failure(shared: &Fleet, status: Option<u16>, kind: Option<String>) {
    shared.failed.fetch_add(1, Ordering::Relaxed);
    let mut failures = shared
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(status) = status {
        *failures.0.entry(status).or_default() += 1;
    }
    if let Some(kind) = kind {
        *failures.1.entry(kind).or_default() += 1;
    }
}

fn progress_ticker(shared: &Arc<Fleet>) -> Ticker {
    let shared = Arc::clone(shared);
    let last = AtomicU64::new(0);
    Ticker::start(shared.options.progress, move |elapsed| {
        let accepted = shared.accepted.load(Ordering::Relaxed);
        let rate = accepted.saturating_sub(last.swap(accepted, Ordering::Relaxed));
        let p99 = shared
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .value_at_quantile(0.99);
        format!(
            "[{:>4}s] sent {}  accepted {}  failed {}  rate {rate}/s  p99 {:.1} ms",
            elapsed.as_secs(),
            shared.sent.load(Ordering::Relaxed),
            accepted,
            shared.failed.load(Ordering::Relaxed),
            p99 as f64 / 1000.0
        )
    })
}
