//! Walking the dead-letter queue safely while the pipeline runs: messages are fetched with
//! `basic.get` *with* acks, so nothing leaves the queue unless the tool takes it; those it
//! leaves are held unacked until the walk ends (so one walk never sees a message twice) and
//! then handed back with one `nack(multiple, requeue)`. A walk examines at most the number
//! of messages the queue held when it started, so messages that come back during a requeue
//! (a project that still does not exist) are not taken again in the same run.

use lapin::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection};

use crate::ToolError;
use intake::broker::{self, PublishError, REASON_HEADER, ROUTING_KEY, publish_confirmed};
use intake::config::BrokerConfig;

/// Headers dropped when a dead letter goes back to the main exchange: the consumer's
/// reason, and RabbitMQ's own dead-lettering history (which would otherwise make a later
/// dead-lettering look like a repeat).
const DROPPED_HEADERS: [&str; 8] = [
    REASON_HEADER,
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

/// An open walk over the dead-letter queue.
pub(super) struct Browser {
    conn: Connection,
    channel: Channel,
    publisher: Option<Channel>,
    queue: String,
    remaining: u64,
    held: Option<Acker>,
}

impl Browser {
    /// Connects and counts the queue; `publishing` opens a confirm channel for requeues.
    pub(super) async fn open(config: &BrokerConfig, publishing: bool) -> Result<Self, ToolError> {
        let conn = broker::connect(config, "intake-dlq").await?;
        let channel = conn.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare(
                config.dead_letter_queue.as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await?;
        let publisher = if publishing {
            let publisher = conn.create_channel().await?;
            publisher
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Some(publisher)
        } else {
            None
        };
        Ok(Self {
            conn,
            channel,
            publisher,
            queue: config.dead_letter_queue.clone(),
            remaining: u64::from(queue.message_count()),
            held: None,
        })
    }

    /// The next message, or `None` once the walk has seen as many as the queue held.
    pub(super) async fn next(&mut self) -> Result<Option<Delivery>, ToolError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let options = BasicGetOptions { no_ack: false };
        let got = self
            .channel
            .basic_get(self.queue.as_str().into(), options)
            .await?;
        self.remaining = self.remaining.saturating_sub(1);
        Ok(got.map(|message| message.delivery))
    }

    /// Leaves a message in the queue (handed back when the walk ends).
    pub(super) fn leave(&mut self, delivery: Delivery) {
        self.held = Some(delivery.acker);
    }

    /// Removes a message from the queue for good.
    pub(super) async fn take(&self, delivery: &Delivery) -> Result<(), ToolError> {
        delivery
            .acker
            .ack(BasicAckOptions { multiple: false })
            .await?;
        Ok(())
    }

    /// Republishes a dead letter to the main exchange, confirmed, without the reason.
    pub(super) async fn republish(
        &self,
        delivery: &Delivery,
        exchange: &str,
    ) -> Result<(), PublishError> {
        let publisher = self.publisher.as_ref().ok_or(PublishError::Unavailable)?;
        let properties = without_reason(&delivery.properties);
        publish_confirmed(publisher, exchange, ROUTING_KEY, &delivery.data, properties).await
    }

    /// Hands back every message left and closes the connection.
    pub(super) async fn finish(self) -> Result<(), ToolError> {
        if let Some(acker) = self.held {
            let options = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            acker.nack(options).await?;
        }
        self.conn.close(200, "dlq done".into()).await?;
        Ok(())
    }
}

/// The original properties minus the reason and dead-lettering headers.
pub(super) fn without_reason(properties: &BasicProperties) -> BasicProperties {
    let Some(headers) = properties.headers() else {
        return properties.clone();
    };
    let kept: std::collections::BTreeMap<ShortString, _> = headers
        .inner()
        .iter()
        .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    properties.clone().with_headers(FieldTable::from(kept))
}
