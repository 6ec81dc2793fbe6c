//! Running totals of what the consumer did, logged periodically so an operator can see
//! progress without a metrics system; and the delivery metrics each batch records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lapin::message::Delivery;
use tokio_util::sync::CancellationToken;

use super::handle::Outcome;

/// Counters since the process started.
#[derive(Debug, Default)]
pub struct Stats {
    batches: AtomicU64,
    stored: AtomicU64,
    superseded: AtomicU64,
    dead_lettered: AtomicU64,
    redelivered: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Batches committed.
    pub batches: u64,
    /// Uploads written.
    pub stored: u64,
    /// Uploads that changed nothing (older than the stored one).
    pub superseded: u64,
    /// Uploads sent to the dead-letter queue (a group that cannot be split counts one).
    pub dead_lettered: u64,
    /// Deliveries the broker flagged as redelivered.
    pub redelivered: u64,
}

impl Stats {
    /// Counts one decided batch, here and in the Prometheus metrics.
    pub fn record(&self, outcomes: &[Outcome], redelivered: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.redelivered
            .fetch_add(redelivered as u64, Ordering::Relaxed);
        for outcome in outcomes {
            let (counter, label) = match outcome {
                Outcome::Stored => (&self.stored, "stored"),
                Outcome::Superseded => (&self.superseded, "superseded"),
                Outcome::DeadLetter(_) => (&self.dead_lettered, "dead_lettered"),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("intake_uploads_total", "outcome" => label).increment(1);
        }
    }

    /// The current totals.
    pub fn totals(&self) -> Totals {
        Totals {
            batches: self.batches.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            superseded: self.superseded.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            redelivered: self.redelivered.load(Ordering::Relaxed),
        }
    }

    /// Logs the totals whenever they changed, every `period`, until `cancel` fires.
    pub async fn report_every(self: Arc<Self>, period: Duration, cancel: CancellationToken) {
        let mut last = Totals::default();
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(period) => {}
            }
            let now = self.totals();
            if now != last {
                tracing::info!(
                    batches = now.batches,
                    stored = now.stored,
                    superseded = now.superseded,
                    dead_lettered = now.dead_lettered,
                    redelivered = now.redelivered,
                    "consumer progress"
                );
                last = now;
            }
        }
    }
}

/// `# HELP` lines for the metrics whose names alone mislead.
pub(super) fn describe_metrics() {
    metrics::describe_gauge!(
        "intake_consumer_prefetch",
        "Prefetch count in effect per worker: consumer.prefetch / 8 (at least 8) until message \
         sizes are known, then sized to consumer.prefetch_bytes, between 8 and consumer.prefetch"
    );
    metrics::describe_counter!(
        "intake_deliveries_total",
        "Messages taken off the queue, whether they carry one upload or a group of them"
    );
    metrics::describe_counter!(
        "intake_group_deliveries_total",
        "Messages taken off the queue that carry a group of uploads (schema 3)"
    );
    metrics::describe_histogram!(
        "intake_batch_size",
        "Uploads per batch written in one transaction (a group message counts each upload)"
    );
    metrics::describe_counter!(
        "intake_redeliveries_total",
        "Deliveries RabbitMQ flagged as redelivered: handed back unacked by a consumer that \
         crashed, lost its connection or was stopped mid-write (a clean stop hands none back)"
    );
}

/// Records a decided batch's deliveries: `uploads` it held in all (a group counts each of
/// its uploads, an unsplittable group one), `groups` of its messages were groups.
pub(super) fn record_deliveries(
    batch: &[Delivery],
    redelivered: usize,
    uploads: usize,
    groups: usize,
) {
    metrics::counter!("intake_deliveries_total").increment(batch.len() as u64);
    metrics::counter!("intake_group_deliveries_total").increment(groups as u64);
    metrics::counter!("intake_redeliveries_total").increment(redelivered as u64);
    metrics::histogram!("intake_batch_size").record(uploads as f64);
    let now = chrono::Utc::now().timestamp();
    for delivery in batch {
        if let Some(sent) = delivery.properties.timestamp() {
            let lag = now.saturating_sub(i64::try_from(*sent).unwrap_or(now));
            metrics::histogram!("intake_queue_lag_seconds").record(lag.max(0) as f64);
        }
    }
}
