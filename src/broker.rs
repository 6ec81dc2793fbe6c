//! RabbitMQ through lapin: the topology, message properties and confirmed publishing;
//! connecting to a list of nodes ([`connector`]) and the front's publisher ([`publisher`]).

mod connector;
mod publisher;

use lapin::options::{
    BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, ExchangeKind};

pub use connector::{Connector, connect};
pub use publisher::Publisher;

use crate::config::BrokerConfig;
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

/// Why a publish did not end in a broker confirm.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No live connection to the broker.
    #[error("broker unavailable")]
    Unavailable,
    /// The broker did not confirm within the timeout.
    #[error("broker did not confirm in time")]
    Timeout,
    /// The broker refused the message (nack) or could not route it.
    #[error("broker refused the message: {0}")]
    Refused(String),
    /// The channel or connection failed while publishing.
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

/// Declares the durable exchanges and quorum queues (idempotent; fronts and consumers both
/// call it, so either may start first).
pub async fn declare_topology(
    channel: &Channel,
    config: &BrokerConfig,
) -> Result<(), lapin::Error> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for (exchange, kind) in [
        (&config.exchange, ExchangeKind::Direct),
        (&config.dead_letter_exchange, ExchangeKind::Fanout),
    ] {
        channel
            .exchange_declare(
                exchange.as_str().into(),
                kind,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
    }
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), text("quorum"));
    channel
        .queue_declare(
            config.dead_letter_queue.as_str().into(),
            durable_queue,
            dead_args,
        )
        .await?;
    channel
        .queue_bind(
            config.dead_letter_queue.as_str().into(),
            config.dead_letter_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    args.insert(
        "x-dead-letter-exchange".into(),
        text(&config.dead_letter_exchange),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(i32::try_from(config.delivery_limit).unwrap_or(i32::MAX)),
    );
    channel
        .queue_declare(config.queue.as_str().into(), durable_queue, args)
        .await?;
    channel
        .queue_bind(
            config.queue.as_str().into(),
            config.exchange.as_str().into(),
            ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// The AMQP properties of an upload message (any write): persistent, with the upload id,
/// receive time, content type, project and schema version.
pub fn upload_properties(upload: &Upload) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        wire::SCHEMA_HEADER.into(),
        AMQPValue::LongUInt(upload.version),
    );
    headers.insert(
        wire::PROJECT_HEADER.into(),
        AMQPValue::LongLongInt(upload.project_id),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(wire::CONTENT_TYPE.into())
        .with_message_id(ShortString::from(upload.stamp.upload_id.to_string()))
        .with_timestamp(u64::try_from(upload.stamp.received_seconds()).unwrap_or(0))
        .with_headers(headers)
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
        .await?
        .await?;
    if confirm.is_nack() {
        return Err(PublishError::Refused("nack".into()));
    }
    if let Some(returned) = confirm.take_message() {
        return Err(PublishError::Refused(returned.reply_text.to_string()));
    }
    Ok(())
}
