//! Group publishing (`front.group_publish`): the broker's cost is paid per message, so the
//! uploads that gather for a routing key while its publish is in flight go as one message
//! (a group body, [`crate::wire::group`]) once that publish is answered — the rules are in
//! [`super::gather`]. Each upload still waits for the confirm of the message that carries
//! it, so durability per upload is unchanged: a nack, a lost connection or a late confirm
//! fails every upload of the group.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::gather::{GroupLimits, Lanes, Outgoing};
use super::partition::routing_key;
use super::{Envelope, PublishError, Publisher};
use crate::wire::{self, group};

/// The lanes of every partition's routing key, under one lock (held for a few pushes).
pub(super) struct Groups {
    limits: GroupLimits,
    lanes: Mutex<Lanes<Member>>,
}

/// An upload waiting in a lane, or in a message in flight.
struct Member {
    /// Shared with the request, which may read it back once the broker confirmed it.
    body: Bytes,
    properties: BasicProperties,
    /// When its publish call gives up.
    deadline: Instant,
    answer: oneshot::Sender<Result<(), PublishError>>,
}

impl Groups {
    pub(super) fn new(limits: GroupLimits, partitions: u16) -> Self {
        Self {
            limits,
            lanes: Mutex::new(Lanes::new(partitions)),
        }
    }

    /// Hands an upload to its lane and publishes whatever must go now; the upload itself
    /// when its lane sends it alone at once, for its own request to publish.
    fn offer(
        &self,
        publisher: &Arc<Publisher>,
        partition: u16,
        member: Member,
    ) -> Result<Option<Outgoing<Member>>, PublishError> {
        let size = member.body.len();
        let offered = self
            .lock()
            .offer(partition, member, size, &self.limits)
            .ok_or(PublishError::Unavailable)?;
        for group in offered.groups {
            // A task of its own: the lanes must hear the answer even if the request that
            // started the publish is dropped (a client that hung up).
            drop(tokio::spawn(drive(Arc::clone(publisher), group)));
        }
        Ok(offered.alone)
    }

    fn done(&self, partition: u16, uploads: usize) -> Option<Outgoing<Member>> {
        self.lock().done(partition, uploads, &self.limits)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lanes<Member>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Publishes one upload through its lane and waits for the confirm of the message that
/// carries it, at most `timeout`.
pub(super) async fn publish(
    publisher: &Arc<Publisher>,
    groups: &Groups,
    partition: u16,
    envelope: &Envelope,
    body: Bytes,
    timeout: std::time::Duration,
) -> Result<(), PublishError> {
    let deadline = Instant::now() + timeout;
    let (answer, answered) = oneshot::channel();
    let member = Member {
        body,
        properties: envelope.properties(),
        deadline,
        answer,
    };
    if let Some((key, mut alone)) = groups.offer(publisher, partition, member)? {
        // Alone and at once (a quiet lane, or a file): published from this request, which
        // saves a task and a hand-over per upload on a quiet front.
        let _flight = Flight {
            publisher: Arc::clone(publisher),
            key,
        };
        return send(publisher, &routing_key(key), &mut alone).await;
    }
    match tokio::time::timeout_at(deadline, answered).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(PublishError::Unavailable),
        Err(_) => Err(PublishError::Timeout),
    }
}

/// A message published from its upload's own request: when it ends, answered or dropped
/// with a request whose client hung up, its lane hears of it and sends what gathered.
struct Flight {
    publisher: Arc<Publisher>,
    key: u16,
}

impl Drop for Flight {
    fn drop(&mut self) {
        let next = self
            .publisher
            .groups()
            .and_then(|groups| groups.done(self.key, 1));
        // No runtime: the front is shutting down, and nothing more will be published.
        if let (Some(next), Ok(runtime)) = (next, tokio::runtime::Handle::try_current()) {
            drop(runtime.spawn(drive(Arc::clone(&self.publisher), next)));
        }
    }
}

/// Publishes a message, answers its uploads, then publishes what gathered meanwhile for the
/// same partition and now fits its window, until nothing more does.
async fn drive(publisher: Arc<Publisher>, outgoing: Outgoing<Member>) {
    let (mut key, mut message) = outgoing;
    loop {
        let routing = routing_key(key);
        let result = send(&publisher, &routing, &mut message).await;
        let uploads = message.len();
        for member in message {
            // Its request may be gone (the client hung up): nobody to tell.
            let _gone = member.answer.send(result.clone());
        }
        let Some(groups) = publisher.groups() else {
            return;
        };
        let Some(next) = groups.done(key, uploads) else {
            return;
        };
        (key, message) = next;
    }
}

/// One message of one or more uploads; one upload travels as a plain single message.
async fn send(
    publisher: &Publisher,
    key: &str,
    message: &mut [Member],
) -> Result<(), PublishError> {
    // The oldest upload's deadline: past it, its request has given up.
    let deadline = message
        .iter()
        .map(|member| member.deadline)
        .min()
        .unwrap_or_else(Instant::now);
    if Instant::now() >= deadline {
        return Err(PublishError::Timeout);
    }
    metrics::histogram!("intake_publish_group_size").record(message.len() as f64);
    if let [single] = message {
        let body = std::mem::take(&mut single.body);
        let properties = single.properties.clone();
        return publisher
            .publish_message(key, &body, properties, deadline)
            .await;
    }
    let bodies: Vec<Bytes> = message
        .iter_mut()
        .map(|member| std::mem::take(&mut member.body))
        .collect();
    let body = group::encode_group(&bodies);
    drop(bodies);
    let result = publisher
        .publish_message(key, &body, group_properties(message.len()), deadline)
        .await;
    let outcome = if result.is_ok() {
        "confirmed"
    } else {
        "failed"
    };
    metrics::counter!("intake_publish_groups_total", "result" => outcome).increment(1);
    result
}

/// The AMQP properties of a group message: persistent, a message id of its own, the group
/// content type and schema, and how many uploads it carries. No project header: a group
/// gathers the uploads of one partition, whatever their projects.
fn group_properties(uploads: usize) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        wire::SCHEMA_HEADER.into(),
        AMQPValue::LongUInt(group::GROUP_SCHEMA_VERSION),
    );
    headers.insert(
        group::GROUP_SIZE_HEADER.into(),
        AMQPValue::LongUInt(u32::try_from(uploads).unwrap_or(u32::MAX)),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(group::GROUP_CONTENT_TYPE.into())
        .with_message_id(ShortString::from(uuid::Uuid::now_v7().to_string()))
        .with_timestamp(now)
        .with_headers(headers)
}
