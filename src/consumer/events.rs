//! A batch's stored-events (docs/EVENTS.md): after the commit and before the ack, one event
//! per upload (each upload of a group message has its own), published with confirms; a batch whose events were not all confirmed is not
//! acked, so the broker delivers it again and its events are emitted again.
//!
//! The kind is read off what is stored, not off what this delivery's write did: a batch
//! delivered again (after a crash between commit and ack) writes nothing, yet an upload the
//! stored row still holds is reported `stored` again, not `superseded`.

use std::collections::HashMap;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel};
use tokio_util::sync::CancellationToken;

use super::handle::{Decided, Outcome, Retry, Stopped, run_retrying};
use super::messages::Entry;
use super::subject::Subject;
use crate::broker::{self, Outgoing, PublishError};
use crate::events::{self, Event, Kind};
use crate::ordering::Stamps;
use crate::store::stamps::{SessionKey, load_stamps};
use crate::store::{Store, StoreError};
use crate::wire::PROJECT_HEADER;

/// A worker's publisher of events: a confirm channel of its own.
pub struct Publisher {
    pub(super) channel: Channel,
    pub(super) exchange: String,
    pub(super) timeout: Duration,
}

impl Publisher {
    /// Publishes the events of a committed batch and waits for every confirm. An error
    /// means the batch must not be acked.
    pub async fn publish(
        &self,
        batch: &[Delivery],
        entries: &[Entry<'_>],
        decided: &Decided,
        kinds: &[Kind],
    ) -> Result<(), PublishError> {
        let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
        let messages: Vec<Outgoing> = entries
            .iter()
            .zip(&decided.outcomes)
            .zip(&decided.subjects)
            .zip(kinds)
            .map(|(((entry, outcome), subject), &kind)| {
                let mut event = match (subject, batch.get(entry.message)) {
                    (Some(s), _) => Event::of(kind, s.project_id, &s.uuid, &s.stamp, s.write),
                    // A group's properties name no single upload of it.
                    (None, Some(delivery)) if entry.part.is_none() => undecodable(delivery),
                    (None, _) => Event::undecodable(None, None),
                };
                if let Outcome::DeadLetter(reason) = outcome {
                    event.reason = Some(reason.clone());
                }
                outgoing(&event, now)
            })
            .collect();
        broker::publish_all_confirmed(&self.channel, &self.exchange, &messages, self.timeout)
            .await?;
        for kind in kinds {
            metrics::counter!("intake_events_published_total", "kind" => kind.as_str())
                .increment(1);
        }
        Ok(())
    }
}

/// The kind of every message's event. Only superseded writes need the stored stamps (one
/// query for the batch, retried like the write): one that the row still holds was written
/// by an earlier delivery. `Ok(Err(_))` when the stamps cannot be read.
pub async fn kinds(
    store: &Store,
    decided: &Decided,
    retry: Retry,
    cancel: &CancellationToken,
) -> Result<Result<Vec<Kind>, StoreError>, Stopped> {
    let mut keys: Vec<SessionKey> = decided
        .outcomes
        .iter()
        .zip(&decided.subjects)
        .filter_map(|(outcome, subject)| match (outcome, subject) {
            (Outcome::Superseded, Some(subject)) => Some(subject.key()),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let stored: HashMap<SessionKey, Stamps> = if keys.is_empty() {
        HashMap::new()
    } else {
        let read = move |conn: &mut diesel::PgConnection| load_stamps(conn, &keys);
        match run_retrying(store, retry, cancel, read).await? {
            Ok(rows) => rows.into_iter().collect(),
            Err(error) => return Ok(Err(error)),
        }
    };
    Ok(Ok(decided
        .outcomes
        .iter()
        .zip(&decided.subjects)
        .map(|(outcome, subject)| kind(outcome, subject.as_ref(), &stored))
        .collect()))
}

fn kind(
    outcome: &Outcome,
    subject: Option<&Subject>,
    stored: &HashMap<SessionKey, Stamps>,
) -> Kind {
    match (outcome, subject) {
        (Outcome::DeadLetter(_), _) | (_, None) => Kind::DeadLettered,
        (Outcome::Stored, Some(subject)) => subject.applied(),
        (Outcome::Superseded, Some(subject)) => {
            let held = stored
                .get(&subject.key())
                .is_some_and(|stamps| stamps.hold(&subject.touched, subject.stamp.order()));
            if held {
                subject.applied()
            } else {
                Kind::Superseded
            }
        }
    }
}

/// The event of a body that could not be decoded: what its properties say.
fn undecodable(delivery: &Delivery) -> Event {
    let properties = &delivery.properties;
    let upload_id = properties
        .message_id()
        .as_ref()
        .and_then(|id| id.as_str().parse().ok());
    let project = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(PROJECT_HEADER))
        .and_then(|value| value.as_long_long_int());
    Event::undecodable(project, upload_id)
}

fn outgoing(event: &Event, now: u64) -> Outgoing {
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(events::CONTENT_TYPE.into())
        .with_type(ShortString::from(event.kind.as_str()))
        .with_timestamp(now);
    if let Some(upload_id) = event.upload_id {
        properties = properties.with_message_id(ShortString::from(upload_id.to_string()));
    }
    Outgoing {
        routing_key: event.routing_key(),
        body: event.to_json(),
        properties,
    }
}
