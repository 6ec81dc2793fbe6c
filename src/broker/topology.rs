//! The topology: durable exchanges, the partitions' quorum queues and the one dead-letter
//! queue, declared idempotently; and the checks that keep a front and a consumer that
//! disagree about `broker.partitions` from losing messages.
//!
//! The partition queues on the broker are the record of the partition count. Consumers
//! declare every queue of their `broker.partitions`, and refuse to run when the broker holds
//! a queue past it (they would leave it unread). Fronts declare only what the unpartitioned
//! topology has, and do not publish until the queue of their last partition exists (a
//! message routed to no queue would be refused anyway: publishes are mandatory).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ExchangeKind};

use super::partition::{queue_name, routing_key};
use crate::config::BrokerConfig;

/// Why the broker's topology cannot be used as configured.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The broker failed.
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    /// `broker.partitions` disagrees with the queues on the broker.
    #[error("{0}")]
    Mismatch(String),
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

const DURABLE_QUEUE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

/// Declares everything of `broker.partitions` (consumers and tools; idempotent).
pub async fn declare_topology(
    channel: &Channel,
    config: &BrokerConfig,
) -> Result<(), lapin::Error> {
    declare_unpartitioned(channel, config).await?;
    for partition in 1..config.partitions.max(1) {
        declare_partition(channel, config, partition).await?;
    }
    Ok(())
}

/// Declares the exchanges, the dead-letter queue and partition 0's queue: the topology of
/// one partition, which fronts declare so that either may start first.
pub async fn declare_unpartitioned(
    channel: &Channel,
    config: &BrokerConfig,
) -> Result<(), lapin::Error> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
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
            DURABLE_QUEUE,
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
    declare_partition(channel, config, 0).await
}

/// The durable topic exchange of stored-events (consumers with `consumer.events`, and the
/// tools that subscribe to it; idempotent).
pub async fn declare_events_exchange(
    channel: &Channel,
    config: &BrokerConfig,
) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            config.events_exchange.as_str().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
}

/// One partition's quorum queue, bound with its routing key, dead-lettering to the one
/// dead-letter exchange.
async fn declare_partition(
    channel: &Channel,
    config: &BrokerConfig,
    partition: u16,
) -> Result<(), lapin::Error> {
    let queue = queue_name(config, partition);
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
        .queue_declare(queue.as_str().into(), DURABLE_QUEUE, args)
        .await?;
    channel
        .queue_bind(
            queue.as_str().into(),
            config.exchange.as_str().into(),
            routing_key(partition).as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Whether a queue exists (a passive declare on a channel of its own: the broker closes
/// the channel when the queue does not).
async fn queue_exists(conn: &Connection, queue: &str) -> Result<bool, lapin::Error> {
    let channel = conn.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    match channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
    {
        Ok(_) => {
            let _closed = channel.close(200, "checked".into()).await;
            Ok(true)
        }
        Err(error) if is_not_found(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(error.kind(), lapin::ErrorKind::ProtocolError(amqp)
        if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}

/// A front's check: the queue of its last partition exists, so no partition it routes to
/// lacks a consumer's queue.
pub async fn require_partitions(
    conn: &Connection,
    config: &BrokerConfig,
) -> Result<(), TopologyError> {
    let last = config.partitions.max(1) - 1;
    let queue = queue_name(config, last);
    if last == 0 || queue_exists(conn, &queue).await? {
        return Ok(());
    }
    Err(TopologyError::Mismatch(format!(
        "broker.partitions = {} but the broker has no queue {queue:?}: start the consumers \
         with broker.partitions = {} first (docs/SCALING.md)",
        config.partitions, config.partitions
    )))
}

/// A consumer's check: no partition queue past its `broker.partitions` exists, which no
/// consumer of this configuration would read.
pub async fn refuse_extra_partitions(
    conn: &Connection,
    config: &BrokerConfig,
) -> Result<(), TopologyError> {
    let queue = queue_name(config, config.partitions.max(1));
    if !queue_exists(conn, &queue).await? {
        return Ok(());
    }
    Err(TopologyError::Mismatch(format!(
        "broker.partitions = {} but the broker has the queue {queue:?} past it, which this \
         consumer would leave unread: set broker.partitions to the broker's count, or drain \
         and delete the extra queues first (docs/SCALING.md)",
        config.partitions
    )))
}
