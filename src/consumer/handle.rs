//! The consumer's decision for a batch of message bodies, apart from the AMQP loop so tests
//! can call it directly: decode and check each, write the good ones in one transaction, and
//! say for every message whether it was stored, superseded or must be dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use diesel::PgConnection;
use tokio_util::sync::CancellationToken;

use super::subject::Subject;
use crate::session::Limits;
use crate::store::write::{BatchOutcome, write_batch};
use crate::store::{Store, StoreError};
use crate::wire::Upload;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written: the session row now holds this upload.
    Stored,
    /// Older than what the row holds (a redelivery, a replay, an overtaken upload): a no-op.
    Superseded,
    /// Can never be stored; the reason goes with it to the dead-letter queue.
    DeadLetter(String),
}

/// Backoff for transient write failures.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// First delay.
    pub initial: Duration,
    /// Ceiling.
    pub max: Duration,
}

/// A batch decided: what became of each message, and what each was about (`None` for a
/// body that could not be decoded, and for all when stored-events are off), by position.
#[derive(Debug, Clone, Default)]
pub struct Decided {
    /// What became of each message.
    pub outcomes: Vec<Outcome>,
    /// The upload each message held, when stored-events are on (all `None` otherwise).
    pub subjects: Vec<Option<Subject>>,
}

/// Shutdown was requested while a write was still failing: nothing was decided, nothing may
/// be acked, and the broker will redeliver the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped before the batch could be written")]
pub struct Stopped;

/// Decides every message of a batch, retrying transient database failures with backoff
/// until they pass or `cancel` fires. Uploads stamped more than `max_clock_skew` ahead of this
/// consumer's clock are dead-lettered (see [`from_the_future`]).
pub async fn process(
    store: &Store,
    limits: &Limits,
    max_clock_skew: Duration,
    bodies: &[&[u8]],
    with_subjects: bool,
    retry: Retry,
    cancel: &CancellationToken,
) -> Result<Decided, Stopped> {
    let mut outcomes = vec![Outcome::Superseded; bodies.len()];
    let mut subjects = vec![None; bodies.len()];
    let mut uploads = Vec::with_capacity(bodies.len());
    let mut positions = Vec::with_capacity(bodies.len());
    let now_micros = chrono::Utc::now().timestamp_micros();
    for (position, body) in bodies.iter().enumerate() {
        let decoded = Upload::decode(body, limits);
        if with_subjects {
            subjects[position] = decoded.as_ref().ok().map(Subject::of);
        }
        if let Some(reason) = decoded
            .as_ref()
            .ok()
            .and_then(|upload| from_the_future(upload, now_micros, max_clock_skew))
        {
            outcomes[position] = Outcome::DeadLetter(reason);
            continue;
        }
        match decoded {
            Ok(upload) => {
                uploads.push(upload);
                positions.push(position);
            }
            Err(error) => outcomes[position] = Outcome::DeadLetter(error.to_string()),
        }
    }
    if uploads.is_empty() {
        return Ok(Decided { outcomes, subjects });
    }
    let uploads = Arc::new(uploads);
    match write_retrying(store, Arc::clone(&uploads), retry, cancel).await? {
        Ok(outcome) => apply(&mut outcomes, &positions, &uploads, &outcome),
        Err(error) => {
            // Something in the batch is unstorable: find it by writing one upload at a time.
            tracing::warn!(%error, size = uploads.len(), "batch write failed; writing one by one");
            for (index, upload) in uploads.iter().enumerate() {
                let single = Arc::new(vec![upload.clone()]);
                let position = positions[index];
                match write_retrying(store, single, retry, cancel).await? {
                    Ok(outcome) => apply(
                        &mut outcomes,
                        &[position],
                        &uploads[index..=index],
                        &outcome,
                    ),
                    Err(error) => {
                        outcomes[position] = Outcome::DeadLetter(format!("not storable: {error}"))
                    }
                }
            }
        }
    }
    Ok(Decided { outcomes, subjects })
}

/// Why an upload's receive time cannot be a front's stamp: it is further ahead of `now` than
/// any clock difference allows. Stored, it would outrank every later write of its session
/// until that time (a message stamped in year 9999 froze its session: later writes were
/// answered "stored" and changed nothing).
pub fn from_the_future(
    upload: &Upload,
    now_micros: i64,
    max_clock_skew: Duration,
) -> Option<String> {
    let skew = i64::try_from(max_clock_skew.as_micros()).unwrap_or(i64::MAX);
    let ahead = upload.stamp.received_micros.saturating_sub(now_micros);
    (ahead > skew).then(|| {
        format!(
            "receive time {} is {} s ahead of the consumer's clock (more than consumer.max_clock_skew_seconds = {})",
            upload.stamp.received().to_rfc3339(),
            ahead / 1_000_000,
            max_clock_skew.as_secs()
        )
    })
}

fn apply(
    outcomes: &mut [Outcome],
    positions: &[usize],
    uploads: &[Upload],
    outcome: &BatchOutcome,
) {
    for &index in &outcome.stored {
        outcomes[positions[index]] = Outcome::Stored;
    }
    for &index in &outcome.unknown_project {
        let project = uploads.get(index).map_or(0, |upload| upload.project_id);
        outcomes[positions[index]] =
            Outcome::DeadLetter(format!("project {project} does not exist"));
    }
}

/// `Ok(Ok(_))` written, `Ok(Err(_))` a permanent failure, `Err(Stopped)` on shutdown.
async fn write_retrying(
    store: &Store,
    uploads: Arc<Vec<Upload>>,
    retry: Retry,
    cancel: &CancellationToken,
) -> Result<Result<BatchOutcome, StoreError>, Stopped> {
    let cache = store.known_projects();
    run_retrying(store, retry, cancel, move |conn| {
        write_batch(conn, &uploads, &cache)
    })
    .await
}

/// Runs `work` until it succeeds or fails for good, retrying transient database failures
/// with backoff until `cancel` fires (`Err(Stopped)`).
pub(super) async fn run_retrying<T, F>(
    store: &Store,
    retry: Retry,
    cancel: &CancellationToken,
    work: F,
) -> Result<Result<T, StoreError>, Stopped>
where
    T: Send + 'static,
    F: Fn(&mut PgConnection) -> Result<T, StoreError> + Clone + Send + 'static,
{
    let mut delay = retry.initial;
    loop {
        match store.run(work.clone()).await {
            Ok(done) => return Ok(Ok(done)),
            Err(error) if error.is_transient() => {
                metrics::counter!("intake_write_retries_total").increment(1);
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "database write failed; will retry");
            }
            Err(error) => return Ok(Err(error)),
        }
        tokio::select! {
            () = cancel.cancelled() => return Err(Stopped),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(retry.max);
    }
}
