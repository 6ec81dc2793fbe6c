//! RabbitMQ through lapin: connecting with backoff, the topology, message properties and the
//! front's confirmed publisher.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

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

/// Opens a connection (one attempt).
pub async fn connect(config: &BrokerConfig, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(config.url.expose(), properties).await
}

/// Connects, retrying with exponential backoff until it succeeds or `cancel` fires.
pub async fn connect_with_retry(
    config: &BrokerConfig,
    name: &str,
    cancel: &CancellationToken,
) -> Option<Connection> {
    let mut delay = Duration::from_millis(config.reconnect_initial_ms.max(1));
    let ceiling = Duration::from_millis(config.reconnect_max_ms.max(1));
    loop {
        match connect(config, name).await {
            Ok(conn) => return Some(conn),
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "cannot connect to RabbitMQ")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(ceiling);
    }
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

struct Live {
    conn: Connection,
    channels: Vec<Channel>,
}

impl Live {
    /// Channels first, then the connection, so a clean stop logs no channel errors.
    async fn close(&self) {
        for channel in self.channels.iter().filter(|c| c.status().connected()) {
            let _closed = channel.close(200, "shutting down".into()).await;
        }
        if self.conn.status().connected() {
            let _closed = self.conn.close(200, "shutting down".into()).await;
        }
    }

    fn healthy(&self) -> bool {
        self.conn.status().connected() && self.channels.iter().all(|c| c.status().connected())
    }
}

/// The front's publisher: a few confirm channels shared by every request, kept connected by
/// a background task. Requests never wait for a reconnect: without a live connection a
/// publish fails at once, and the client gets `503`.
pub struct Publisher {
    live: ArcSwapOption<Live>,
    /// Encode and drop instead of publishing: only for measuring the front without a broker.
    discard: bool,
    config: BrokerConfig,
    channel_count: usize,
    next_channel: AtomicUsize,
    trouble: Notify,
}

impl Publisher {
    /// Starts the publisher and its reconnect task, which stops when `cancel` fires.
    pub fn start(
        config: BrokerConfig,
        channel_count: usize,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let publisher = Arc::new(Self {
            live: ArcSwapOption::empty(),
            discard: false,
            config,
            channel_count: channel_count.max(1),
            next_channel: AtomicUsize::new(0),
            trouble: Notify::new(),
        });
        tokio::spawn(Arc::clone(&publisher).supervise(cancel));
        publisher
    }

    /// A publisher that encodes every message and drops it, answering at once: the
    /// benchmark uses it to measure the front's own request handling, without the broker.
    pub fn discarding(config: BrokerConfig) -> Arc<Self> {
        Arc::new(Self {
            live: ArcSwapOption::empty(),
            discard: true,
            config,
            channel_count: 1,
            next_channel: AtomicUsize::new(0),
            trouble: Notify::new(),
        })
    }

    /// Whether a publish could succeed now.
    pub fn is_ready(&self) -> bool {
        self.discard || self.live.load().as_ref().is_some_and(|live| live.healthy())
    }

    /// Closes the channels and the connection now (on shutdown, after the last publish), so
    /// the broker sees a clean close rather than a dropped socket.
    pub async fn close(&self) {
        if let Some(live) = self.live.swap(None) {
            live.close().await;
        }
    }

    /// Whether the broker has blocked the connection (flow control: memory or disk alarm).
    pub fn is_blocked(&self) -> bool {
        self.live
            .load()
            .as_ref()
            .is_some_and(|live| live.conn.status().blocked())
    }

    /// Publishes one upload (any write) and waits for its confirm, at most `timeout`.
    pub async fn publish(&self, upload: &Upload, timeout: Duration) -> Result<(), PublishError> {
        self.publish_encoded(upload, upload.encode(), timeout).await
    }

    /// Like [`Self::publish`], with the upload already encoded as `body`.
    pub async fn publish_encoded(
        &self,
        upload: &Upload,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        if self.discard {
            std::hint::black_box(body);
            return Ok(());
        }
        let live = self.live.load_full().ok_or(PublishError::Unavailable)?;
        let index = self.next_channel.fetch_add(1, Ordering::Relaxed) % live.channels.len();
        let channel = live.channels.get(index).ok_or(PublishError::Unavailable)?;
        let publish = publish_confirmed(
            channel,
            &self.config.exchange,
            ROUTING_KEY,
            &body,
            upload_properties(upload),
        );
        let result = match tokio::time::timeout(timeout, publish).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::Timeout),
        };
        if result.is_err() && !live.healthy() {
            self.trouble.notify_one();
        }
        result
    }

    async fn supervise(self: Arc<Self>, cancel: CancellationToken) {
        while let Some(conn) = connect_with_retry(&self.config, "intake-front", &cancel).await {
            match self.open(conn).await {
                Ok(live) => {
                    tracing::info!("connected to RabbitMQ");
                    self.live.store(Some(Arc::new(live)));
                    self.watch(&cancel).await;
                    if let Some(live) = self.live.swap(None) {
                        live.close().await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot set up RabbitMQ channels"),
            }
            if cancel.is_cancelled() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(self.config.reconnect_initial_ms)).await;
        }
    }

    async fn open(&self, conn: Connection) -> Result<Live, lapin::Error> {
        let mut channels = Vec::with_capacity(self.channel_count);
        for _ in 0..self.channel_count {
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.push(channel);
        }
        if let Some(first) = channels.first() {
            declare_topology(first, &self.config).await?;
        }
        Ok(Live { conn, channels })
    }

    /// Returns when the connection or a channel is lost, or on shutdown.
    async fn watch(&self, cancel: &CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.trouble.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            if !self.is_ready() {
                tracing::warn!("lost the RabbitMQ connection; reconnecting");
                return;
            }
        }
    }
}
