//! The queue consumer: take deliveries with a bounded prefetch, gather them into batches,
//! split group messages into their uploads and decide every upload of the batch
//! ([`messages::process_messages`]), dead-letter what can never be stored (each upload
//! alone), publish the batch's stored-events when they are on ([`events`]), and only then ack
//! the batch with one `multiple` ack. Reconnects to RabbitMQ by itself.

mod batch;
mod dead_letter;
pub mod events;
pub mod handle;
pub mod http;
pub mod messages;
mod prefetch;
pub mod stats;
mod subject;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio_util::sync::CancellationToken;

use self::handle::Retry;
use self::prefetch::PrefetchSizer;
use self::stats::{Stats, describe_metrics};
use self::watch::{connection_lost, connection_lost_error};
use crate::broker;
use crate::broker::partition::queue_name;
use crate::config::Config;
use crate::store::Store;

/// Why a worker stopped before shutdown: the broker connection or channel failed.
#[derive(Debug, thiserror::Error)]
enum BrokerLost {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker: {0}")]
    Other(String),
    /// Not a lost connection: the configuration disagrees with the broker's topology.
    #[error("{0}")]
    Topology(String),
}

/// Why the consumer stopped without being asked to.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// Runs the consumer until `cancel` fires: finishes the batch in hand, leaves the rest to the
/// broker, and returns. Returns early with an error when `broker.partitions` disagrees with
/// the queues on the broker.
pub async fn run(config: Config, cancel: CancellationToken) -> Result<(), Refused> {
    let config = Arc::new(config);
    let store = Store::new(&config.database);
    let stats = Arc::new(Stats::default());
    tokio::spawn(Arc::clone(&stats).report_every(Duration::from_secs(10), cancel.clone()));
    crate::telemetry::metrics_handle();
    describe_metrics();
    let ready = Arc::new(http::Readiness::default());
    let listener = {
        let (config, ready, cancel) = (Arc::clone(&config), Arc::clone(&ready), cancel.clone());
        tokio::spawn(async move { http::serve(&config, ready, cancel).await })
    };
    let mut connector = broker::Connector::new(&config.broker, "intake-consumer");
    while let Some(conn) = connector.connect(&cancel).await {
        ready.set(true);
        let served = serve(&conn, &config, &store, &stats, &cancel).await;
        ready.set(false);
        match &served {
            Ok(()) => tracing::info!("consumer stopped"),
            Err(BrokerLost::Topology(error)) => {
                broker::close_quietly(conn.close(200, "consumer refused".into())).await;
                cancel.cancel();
                let _ = listener.await;
                return Err(Refused(error.clone()));
            }
            Err(error) => tracing::warn!(%error, "lost RabbitMQ; reconnecting"),
        }
        let node_lost = !conn.status().connected();
        broker::close_quietly(conn.close(200, "consumer stopping".into())).await;
        if cancel.is_cancelled() {
            break;
        }
        // A lost node: the next one is tried at once. Anything else (a refused declare, a
        // channel error) must not spin.
        if !node_lost {
            let pause = Duration::from_millis(config.broker.reconnect_initial_ms);
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
    let _ = listener.await;
    Ok(())
}

async fn serve(
    conn: &Connection,
    config: &Arc<Config>,
    store: &Store,
    stats: &Arc<Stats>,
    cancel: &CancellationToken,
) -> Result<(), BrokerLost> {
    let partitions = config.consumer_partitions().map_err(BrokerLost::Topology)?;
    // Listened to from the start, so an error while the workers are set up is not missed.
    let events = conn.events_listener();
    let setup = conn.create_channel().await?;
    broker::declare_topology(&setup, &config.broker).await?;
    if config.consumer.events {
        broker::declare_events_exchange(&setup, &config.broker).await?;
    }
    setup.close(200, "topology declared".into()).await?;
    broker::refuse_extra_partitions(conn, &config.broker)
        .await
        .map_err(|error| match error {
            broker::TopologyError::Amqp(error) => BrokerLost::Amqp(error),
            broker::TopologyError::Mismatch(error) => BrokerLost::Topology(error),
        })?;
    // A worker that fails takes the others down with it, so the connection is rebuilt whole.
    let failed = cancel.child_token();
    // Fired when the connection itself failed: every worker is dropped where it is, since
    // lapin never answers a request sent before or after the failure (a re-subscribe, a
    // cancel) and a worker waiting on one would wait for ever. Nothing is lost: what was
    // not acked comes back from the broker, and a write that commits anyway is a no-op then.
    let lost = CancellationToken::new();
    let mut workers = tokio::task::JoinSet::new();
    // Each worker reads one queue (a multiple ack covers one channel's deliveries, so one
    // channel must not mix queues); every partition gets at least one.
    let count = config.consumer.workers.max(partitions.len()).max(1);
    for index in 0..count {
        let partition = partitions.get(index % partitions.len().max(1)).copied();
        let worker = Worker {
            queue: queue_name(&config.broker, partition.unwrap_or(0)),
            consume: conn.create_channel().await?,
            dead_letters: conn.create_channel().await?,
            events: match config.consumer.events {
                true => Some(events::Publisher {
                    channel: conn.create_channel().await?,
                    exchange: config.broker.events_exchange.clone(),
                    timeout: config.consumer.event_confirm_timeout(),
                }),
                false => None,
            },
            config: Arc::clone(config),
            store: store.clone(),
            stats: Arc::clone(stats),
            tag: format!("intake-consumer-{}-{index}", std::process::id()),
        };
        let (stop, lost) = (failed.clone(), lost.clone());
        workers.spawn(async move {
            let result = tokio::select! {
                result = worker.run(&stop) => result,
                () = lost.cancelled() => Err(connection_lost_error()),
            };
            worker.close().await;
            if result.is_err() {
                stop.cancel();
            }
            result
        });
    }
    // The connection is watched here rather than by each worker: every worker is stopped the
    // moment it fails instead of finding out through a request of its own.
    let failure = connection_lost(conn, events);
    tokio::pin!(failure);
    let (mut outcome, mut watching) = (Ok(()), true);
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(Err(error))) => outcome = Err(error),
                Some(_) => {}
            },
            () = &mut failure, if watching => {
                watching = false;
                lost.cancel();
                failed.cancel();
                outcome = Err(connection_lost_error());
            }
        }
    }
    outcome
}

/// How long a worker waits for RabbitMQ to answer the cancel of its subscription.
const CANCEL_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

struct Worker {
    queue: String,
    consume: Channel,
    dead_letters: Channel,
    events: Option<events::Publisher>,
    config: Arc<Config>,
    store: Store,
    stats: Arc<Stats>,
    tag: String,
}

impl Worker {
    /// Closes its channels before the connection goes, so a clean stop is quiet and the
    /// broker requeues this worker's unacked deliveries at once.
    async fn close(&self) {
        let events = self.events.as_ref().map(|events| &events.channel);
        for channel in [&self.consume, &self.dead_letters]
            .into_iter()
            .chain(events)
        {
            if channel.status().connected() {
                broker::close_quietly(channel.close(200, "consumer stopping".into())).await;
            }
        }
    }

    async fn run(&self, cancel: &CancellationToken) -> Result<(), BrokerLost> {
        let settings = &self.config.consumer;
        self.dead_letters
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        if let Some(events) = &self.events {
            events
                .channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
        }
        let retry = Retry {
            initial: Duration::from_millis(settings.retry_initial_ms.max(1)),
            max: Duration::from_millis(settings.retry_max_ms.max(1)),
        };
        let mut sizer = PrefetchSizer::new(settings.prefetch, settings.prefetch_bytes);
        let mut prefetch = sizer.initial();
        loop {
            let mut deliveries = self.subscribe(prefetch).await?;
            let (mut resizing, mut stopping) = (false, false);
            loop {
                let first = tokio::select! {
                    () = cancel.cancelled(), if !stopping => {
                        // Store and ack what the broker already sent before the channel
                        // closes: a clean stop then hands nothing back, so a restart sees no
                        // redeliveries (they mean a crash or a failed write).
                        if !resizing {
                            self.cancel_subscription().await?;
                        }
                        stopping = true;
                        continue;
                    }
                    next = deliveries.next() => next,
                };
                let ended = match first {
                    None => true,
                    Some(first) => {
                        let (batch, ended) = self.gather(first?, &mut deliveries).await?;
                        if self.handle(&batch, retry, cancel).await?.is_none() {
                            return Ok(());
                        }
                        sizer.observe(batch.iter().map(|delivery| delivery.data.len()));
                        ended
                    }
                };
                match (ended, resizing) {
                    (true, _) if stopping => return Ok(()),
                    (true, true) => break,
                    (true, false) => {
                        return Err(BrokerLost::Other(
                            "the broker cancelled the consumer".into(),
                        ));
                    }
                    (false, false) if !stopping && sizer.should_resize(prefetch) => {
                        // What the broker already sent still arrives, then the stream ends.
                        self.cancel_subscription().await?;
                        resizing = true;
                    }
                    (false, _) => {}
                }
            }
            let wanted = sizer.wanted();
            tracing::debug!(
                from = prefetch,
                to = wanted,
                "prefetch resized to the message size"
            );
            prefetch = wanted;
        }
    }

    /// Cancels this worker's subscription. The cancel may come because a sibling worker lost
    /// the shared connection: a request sent on a connection that already failed is never
    /// answered, so that case is told at once, and the answer is awaited for a bounded time.
    async fn cancel_subscription(&self) -> Result<(), BrokerLost> {
        if !self.consume.status().connected() {
            return Err(connection_lost_error());
        }
        let cancel = self
            .consume
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default());
        match tokio::time::timeout(CANCEL_ANSWER_TIMEOUT, cancel).await {
            Ok(answered) => Ok(answered?),
            Err(_) => Err(BrokerLost::Other(
                "RabbitMQ did not answer the consumer's cancel".into(),
            )),
        }
    }

    async fn subscribe(&self, prefetch: u16) -> Result<lapin::Consumer, BrokerLost> {
        self.consume
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        metrics::gauge!("intake_consumer_prefetch", "worker" => self.tag.clone())
            .set(f64::from(prefetch));
        Ok(self
            .consume
            .basic_consume(
                self.queue.as_str().into(),
                self.tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?)
    }
}
