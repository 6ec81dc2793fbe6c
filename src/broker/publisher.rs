//! The front's publisher: a few confirm channels on one connection to one of the broker's
//! nodes, shared by every request and kept connected by a background task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use futures_util::StreamExt as _;
use lapin::options::ConfirmSelectOptions;
use lapin::{BasicProperties, Channel, Connection};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::gather::GroupLimits;
use super::group::{self, Groups};
use super::partition::{partition_of, routing_key_of_envelope};
use super::{
    Connector, Envelope, PublishError, TopologyError, declare_unpartitioned, publish_confirmed,
    require_partitions,
};
use crate::config::BrokerConfig;
use crate::wire::Upload;

/// The first pause before publishing a nacked message again; it doubles up to the max.
const NACK_PAUSE_FIRST: Duration = Duration::from_millis(50);
const NACK_PAUSE_MAX: Duration = Duration::from_millis(800);

struct Live {
    conn: Connection,
    channels: Vec<Channel>,
}

impl Live {
    /// Channels first, then the connection, so a clean stop logs no channel errors.
    async fn close(&self) {
        for channel in self.channels.iter().filter(|c| c.status().connected()) {
            super::close_quietly(channel.close(200, "shutting down".into())).await;
        }
        if self.conn.status().connected() {
            super::close_quietly(self.conn.close(200, "shutting down".into())).await;
        }
    }

    fn healthy(&self) -> bool {
        self.conn.status().connected() && self.channels.iter().all(|c| c.status().connected())
    }
}

/// The front's publisher. A publish without a live connection waits for the next one (the
/// switch to another node) within its timeout, then fails and the client gets `503`.
pub struct Publisher {
    live: ArcSwapOption<Live>,
    /// Encode and drop instead of publishing: only for measuring the front without a broker.
    discard: bool,
    config: BrokerConfig,
    channel_count: usize,
    next_channel: AtomicUsize,
    trouble: Notify,
    /// Wakes publishes waiting for a connection.
    connected: Notify,
    /// With group publishing: the uploads gathering per routing key.
    groups: Option<Groups>,
    /// Itself, for the tasks that publish groups.
    me: Weak<Self>,
}

impl Publisher {
    /// Starts the publisher and its reconnect task, which stops when `cancel` fires. Every
    /// upload is a message of its own.
    pub fn start(
        config: BrokerConfig,
        channel_count: usize,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        Self::start_with(config, channel_count, None, cancel)
    }

    /// Like [`Self::start`]; with `groups`, the uploads that gather for a routing key while
    /// its publish is in flight go as one message ([`super::group`]).
    pub fn start_with(
        config: BrokerConfig,
        channel_count: usize,
        groups: Option<GroupLimits>,
        cancel: CancellationToken,
    ) -> Arc<Self> {
        let groups = groups.map(|limits| Groups::new(limits, config.partitions));
        let publisher = Self::build(config, channel_count, groups, false);
        tokio::spawn(Arc::clone(&publisher).supervise(cancel));
        publisher
    }

    /// A publisher that encodes every message and drops it, answering at once: the
    /// benchmark uses it to measure the front's own request handling, without the broker.
    pub fn discarding(config: BrokerConfig) -> Arc<Self> {
        Self::build(config, 1, None, true)
    }

    fn build(
        config: BrokerConfig,
        channel_count: usize,
        groups: Option<Groups>,
        discard: bool,
    ) -> Arc<Self> {
        Arc::new_cyclic(|me| Self {
            live: ArcSwapOption::empty(),
            discard,
            config,
            channel_count: channel_count.max(1),
            next_channel: AtomicUsize::new(0),
            trouble: Notify::new(),
            connected: Notify::new(),
            groups,
            me: me.clone(),
        })
    }

    /// This publisher, shared (for a task that outlives the call that starts it).
    pub(super) fn shared(&self) -> Option<Arc<Self>> {
        self.me.upgrade()
    }

    pub(super) fn groups(&self) -> Option<&Groups> {
        self.groups.as_ref()
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
        let body = Bytes::from(upload.encode());
        self.publish_encoded(&Envelope::of(upload), body, timeout)
            .await
    }

    /// Like [`Self::publish`], with the upload already encoded as `body` and only its
    /// envelope kept: the caller may drop a large upload before the broker confirms.
    pub async fn publish_encoded(
        &self,
        envelope: &Envelope,
        body: Bytes,
        timeout: Duration,
    ) -> Result<(), PublishError> {
        if self.discard {
            std::hint::black_box(body);
            return Ok(());
        }
        if let Some(groups) = &self.groups {
            let partition =
                partition_of(envelope.project_id, &envelope.uuid, self.config.partitions);
            let publisher = self.shared().ok_or(PublishError::Unavailable)?;
            return group::publish(&publisher, groups, partition, envelope, body, timeout).await;
        }
        let key = routing_key_of_envelope(&self.config, envelope);
        let deadline = Instant::now() + timeout;
        self.publish_message(&key, &body, envelope.properties(), deadline)
            .await
    }

    /// Publishes one message and waits for its confirm until `deadline`, publishing it
    /// again after a nack while time remains.
    pub(super) async fn publish_message(
        &self,
        key: &str,
        body: &[u8],
        properties: BasicProperties,
        deadline: Instant,
    ) -> Result<(), PublishError> {
        let mut pause = NACK_PAUSE_FIRST;
        loop {
            let result = self
                .publish_once(key, body, properties.clone(), deadline)
                .await;
            // A nack means the broker did not take the message: publish it again while time
            // remains. Under the same upload ids a second copy that did land is a no-op.
            let retry_at = Instant::now() + pause;
            if !matches!(result, Err(PublishError::Nacked)) || retry_at >= deadline {
                return result;
            }
            tracing::debug!(message.id = ?properties.message_id(), "publish nacked; publishing again");
            tokio::time::sleep_until(retry_at).await;
            pause = (pause * 2).min(NACK_PAUSE_MAX);
        }
    }

    /// One publish on the live connection (waiting for one until `deadline`) and its confirm.
    async fn publish_once(
        &self,
        key: &str,
        body: &[u8],
        properties: BasicProperties,
        deadline: Instant,
    ) -> Result<(), PublishError> {
        let live = self.live_until(deadline).await?;
        let index = self.next_channel.fetch_add(1, Ordering::Relaxed) % live.channels.len();
        let channel = live.channels.get(index).ok_or(PublishError::Unavailable)?;
        let publish = publish_confirmed(channel, &self.config.exchange, key, body, properties);
        let result = match tokio::time::timeout_at(deadline, publish).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::Timeout),
        };
        if result.is_err() && !live.healthy() {
            self.trouble.notify_one();
        }
        result
    }

    /// The live connection, waiting for one (a reconnect in progress) until `deadline`.
    async fn live_until(&self, deadline: Instant) -> Result<Arc<Live>, PublishError> {
        loop {
            // Registered before the check, so a connection made in between still wakes us.
            let connected = self.connected.notified();
            tokio::pin!(connected);
            connected.as_mut().enable();
            match self.live.load_full() {
                Some(live) if live.healthy() => return Ok(live),
                Some(_) => self.trouble.notify_one(),
                None => {}
            }
            tokio::time::timeout_at(deadline, connected)
                .await
                .map_err(|_| PublishError::Unavailable)?;
        }
    }

    async fn supervise(self: Arc<Self>, cancel: CancellationToken) {
        let mut connector = Connector::new(&self.config, "intake-front");
        while let Some(conn) = connector.connect(&cancel).await {
            let events = conn.events_listener();
            match self.open(conn).await {
                Ok(live) => {
                    self.live.store(Some(Arc::new(live)));
                    self.connected.notify_waiters();
                    self.watch(events, &cancel).await;
                    if let Some(live) = self.live.swap(None) {
                        live.close().await;
                    }
                }
                Err(TopologyError::Amqp(error)) => {
                    tracing::warn!(%error, "cannot set up RabbitMQ channels");
                    tokio::time::sleep(Duration::from_millis(self.config.reconnect_initial_ms))
                        .await;
                }
                // Not ready until the consumers have declared the partitions; it may take
                // a while (a rollout), so checked at the slowest reconnect pace.
                Err(TopologyError::Mismatch(error)) => {
                    tracing::error!(%error, "not publishing");
                    tokio::time::sleep(Duration::from_millis(self.config.reconnect_max_ms)).await;
                }
            }
            if cancel.is_cancelled() {
                return;
            }
        }
    }

    async fn open(&self, conn: Connection) -> Result<Live, TopologyError> {
        let mut channels = Vec::with_capacity(self.channel_count);
        for _ in 0..self.channel_count {
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.push(channel);
        }
        if let Some(first) = channels.first() {
            declare_unpartitioned(first, &self.config).await?;
        }
        let live = Live { conn, channels };
        if let Err(error) = require_partitions(&live.conn, &self.config).await {
            live.close().await;
            return Err(error);
        }
        Ok(live)
    }

    /// Returns when the connection or a channel is lost, or on shutdown.
    async fn watch(
        &self,
        events: impl futures_util::Stream<Item = lapin::Event> + Send,
        cancel: &CancellationToken,
    ) {
        tokio::pin!(events);
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = self.trouble.notified() => {}
                // A connection error is noticed at once, not at the next poll.
                Some(_) = events.next() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            if !self.is_ready() {
                tracing::warn!("lost the RabbitMQ connection; reconnecting");
                return;
            }
        }
    }
}
