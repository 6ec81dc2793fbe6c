//! RabbitMQ through lapin: the topology, message properties and confirmed publishing;
//! connecting to a list of nodes ([`connector`]) and the front's publisher ([`publisher`]).

mod connector;
mod gather;
mod group;
pub mod partition;
mod publisher;
mod topology;

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};

pub use connector::{Connector, connect};
pub use gather::GroupLimits;
pub use publisher::Publisher;
pub use topology::{
    TopologyError, declare_events_exchange, declare_topology, declare_unpartitioned,
    refuse_extra_partitions, require_partitions,
};

use crate::wire::{self, Upload};

/// Routing key of upload messages on the uploads exchange.
pub const ROUTING_KEY: &str = "upload";
/// Header a dead-lettered message carries: why it can never be stored.
pub const REASON_HEADER: &str = "x-intake-reason";
/// Header the consumer gives each dead letter: a fresh id, so `intake dlq` records it once
/// however often the broker delivers it.
pub const DEAD_LETTER_ID_HEADER: &str = "x-intake-dead-letter-id";
/// Header the consumer gives each dead letter: when it was dead-lettered, RFC 3339.
pub const DEAD_LETTERED_AT_HEADER: &str = "x-intake-dead-lettered-at";

/// Why a publish did not end in a broker confirm (cloned to every upload of a group).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PublishError {
    /// No live connection to the broker.
    #[error("broker unavailable")]
    Unavailable,
    /// The broker did not confirm within the timeout.
    #[error("broker did not confirm in time")]
    Timeout,
    /// The broker could not route the message to a queue.
    #[error("broker refused the message: {0}")]
    Refused(String),
    /// The broker nacked the message: it did not take it (a quorum queue electing a new
    /// leader does this), so publishing it again is safe.
    #[error("broker nacked the message")]
    Nacked,
    /// The channel or connection failed while publishing.
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
}

/// Awaits a channel's or connection's close, at most a second: on a connection that just
/// died the broker's answer never comes, and a reconnect must not wait for it.
pub async fn close_quietly(close: impl Future<Output = Result<(), lapin::Error>>) {
    let _closed = tokio::time::timeout(std::time::Duration::from_secs(1), close).await;
}

/// What publishing an upload needs besides its encoded body: its routing (project and
/// session) and its message properties. Small, so that the front can drop a large upload
/// once it is encoded instead of holding it while the broker confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Schema version of the body.
    pub version: u32,
    /// Project the upload belongs to.
    pub project_id: i64,
    /// The session the write is about.
    pub uuid: String,
    /// The upload id.
    pub upload_id: uuid::Uuid,
    /// When the front received the upload, seconds since the epoch.
    pub received_seconds: i64,
}

impl Envelope {
    /// The envelope of `upload`.
    pub fn of(upload: &Upload) -> Self {
        Self {
            version: upload.version,
            project_id: upload.project_id,
            uuid: upload.uuid().as_str().to_owned(),
            upload_id: upload.stamp.upload_id,
            received_seconds: upload.stamp.received_seconds(),
        }
    }

    /// The AMQP properties of its message: persistent, with the upload id, receive time,
    /// content type, project and schema version.
    pub fn properties(&self) -> BasicProperties {
        let mut headers = FieldTable::default();
        headers.insert(
            wire::SCHEMA_HEADER.into(),
            AMQPValue::LongUInt(self.version),
        );
        headers.insert(
            wire::PROJECT_HEADER.into(),
            AMQPValue::LongLongInt(self.project_id),
        );
        BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(wire::CONTENT_TYPE.into())
            .with_message_id(ShortString::from(self.upload_id.to_string()))
            .with_timestamp(u64::try_from(self.received_seconds).unwrap_or(0))
            .with_headers(headers)
    }
}

/// The AMQP properties of an upload message (any write): see [`Envelope::properties`].
pub fn upload_properties(upload: &Upload) -> BasicProperties {
    Envelope::of(upload).properties()
}

/// Publishes on a confirm channel and waits for the broker's ack. Mandatory, so a message
/// no queue takes is an error rather than silently dropped.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), PublishError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties,
        )
        .await?;
    confirmed(confirm.await?)
}

/// One message of [`publish_all_confirmed`].
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Its routing key.
    pub routing_key: String,
    /// Its body.
    pub body: Vec<u8>,
    /// Its properties.
    pub properties: BasicProperties,
}

/// Publishes every message before waiting for any confirm (a batch costs one round trip, not
/// one per message), and waits until all are confirmed, at most `timeout`. Not mandatory:
/// for messages that may rightly reach no queue (an exchange nobody subscribed to yet).
pub async fn publish_all_confirmed(
    channel: &Channel,
    exchange: &str,
    messages: &[Outgoing],
    timeout: std::time::Duration,
) -> Result<(), PublishError> {
    let all = async {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let confirm = channel
                .basic_publish(
                    exchange.into(),
                    message.routing_key.as_str().into(),
                    BasicPublishOptions::default(),
                    &message.body,
                    message.properties.clone(),
                )
                .await?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            confirmed(confirm.await?)?;
        }
        Ok(())
    };
    tokio::time::timeout(timeout, all)
        .await
        .unwrap_or(Err(PublishError::Timeout))
}

/// A broker's answer to one publish, as a result.
fn confirmed(confirm: lapin::Confirmation) -> Result<(), PublishError> {
    if confirm.is_nack() {
        return Err(PublishError::Nacked);
    }
    if let Some(returned) = confirm.take_message() {
        return Err(PublishError::Refused(returned.reply_text.to_string()));
    }
    Ok(())
}
