//! Publishing a write, confirmed, under the front's budgets; and reading back a large one.

use bytes::Bytes;

use super::AppState;
use super::error::ApiError;
use crate::broker::{Envelope, PublishError};
use crate::wire::Upload;

/// Publishes any write and waits for the broker's confirm: the one place a write becomes
/// durable. Sheds load instead of queueing without bound: when `front.max_in_flight_publishes`
/// publishes already wait for confirms, or the broker applies flow control, the client gets
/// `503` with `Retry-After` at once.
pub(super) async fn publish(
    state: &AppState,
    envelope: &Envelope,
    body: Bytes,
) -> Result<(), ApiError> {
    let upload_id = envelope.upload_id;
    // Counted in KiB so that a semaphore's u32 permits cover any body the front accepts; an
    // upload larger than the whole budget takes all of it rather than never passing.
    let budget_kib = (state.config.front.max_in_flight_bytes / 1024).max(1);
    let kib = u32::try_from(body.len().div_ceil(1024).clamp(1, budget_kib)).unwrap_or(u32::MAX);
    let (Ok(_permit), Ok(_bytes)) = (
        state.publish_budget.try_acquire(),
        state.publish_bytes_budget.try_acquire_many(kib),
    ) else {
        metrics::counter!("intake_publish_total", "result" => "shed").increment(1);
        return Err(ApiError::Unavailable(
            "too many uploads are waiting for the broker; retry shortly".into(),
        ));
    };
    if state.publisher.is_blocked() {
        metrics::counter!("intake_publish_total", "result" => "shed").increment(1);
        return Err(ApiError::Unavailable(
            "the broker is applying flow control; retry shortly".into(),
        ));
    }
    let started = std::time::Instant::now();
    let published = state
        .publisher
        .publish_encoded(envelope, body, state.config.front.publish_timeout())
        .await;
    metrics::counter!("intake_publish_total", "result" => publish_result(&published)).increment(1);
    published.map_err(|error| {
        tracing::warn!(upload.id = %upload_id, %error, "upload not confirmed by the broker");
        ApiError::Unavailable(format!("the upload was not stored ({error}); retry"))
    })?;
    metrics::histogram!("intake_publish_confirm_seconds").record(started.elapsed().as_secs_f64());
    Ok(())
}

/// The upload a body this front encoded holds. It cannot fail short of a bug; the write is
/// stored all the same, so the client's retry is harmless.
pub(super) fn read_back(body: &[u8]) -> Result<Upload, ApiError> {
    Upload::decode_own(body).map_err(|error| {
        tracing::error!(%error, "cannot read back a published upload");
        ApiError::Internal(format!("cannot read back a published upload: {error}"))
    })
}

/// The `result` label of `intake_publish_total`.
fn publish_result(result: &Result<(), PublishError>) -> &'static str {
    match result {
        Ok(()) => "confirmed",
        Err(PublishError::Unavailable) => "unavailable",
        Err(PublishError::Timeout) => "timeout",
        Err(PublishError::Refused(_)) => "refused",
        Err(PublishError::Nacked) => "nacked",
        Err(PublishError::Amqp(_)) => "error",
    }
}
