//! The queue consumer: take deliveries with a bounded prefetch, gather them into batches,
//! split group messages into their uploads and decide every upload of the batch
//! ([`messages::process_messages`]), dead-letter what can never be stored (each upload
//! alone), publish the batch's stored-events when they are on ([`events`]), and only then ack
//! the batch with one `multiple` ack. Reconnects to RabbitMQ by itself.

mod dead_letter;
pub mod events;
pub mod handle;
pub mod http;
pub mod messages;
mod prefetch;
pub mod stats;
mod subject;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio_util::sync::CancellationToken;

use self::dead_letter::publish_failed;
use self::handle::{Outcome, Retry, Stopped};
use self::messages::{DecidedMessages, process_messages, uploads_in};
use self::prefetch::PrefetchSizer;
use self::stats::{Stats, describe_metrics, record_deliveries};
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
        let stop = failed.clone();
        workers.spawn(async move {
            let result = worker.run(&stop).await;
            worker.close().await;
            if result.is_err() {
                stop.cancel();
            }
            result
        });
    }
    let mut outcome = Ok(());
    while let Some(joined) = workers.join_next().await {
        if let Ok(Err(error)) = joined {
            outcome = Err(error);
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
            return Err(BrokerLost::Other(
                "the connection to RabbitMQ was lost".into(),
            ));
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

    /// Gathers a batch after its first delivery: up to `batch_size` uploads (a group message
    /// counts its uploads) or `batch_bytes` of messages, or what arrives within the linger.
    /// The message that crosses a limit still joins, so a batch may hold more uploads than
    /// the prefetch count. `true` when the subscription ended.
    async fn gather(
        &self,
        first: Delivery,
        deliveries: &mut lapin::Consumer,
    ) -> Result<(Vec<Delivery>, bool), BrokerLost> {
        let settings = &self.config.consumer;
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(settings.batch_linger_ms);
        let mut bytes = first.data.len();
        let mut uploads = uploads_in(&first.data, first.properties.headers().as_ref());
        let mut batch = vec![first];
        while uploads < settings.batch_size.max(1) && bytes < settings.batch_bytes {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                next = deliveries.next() => match next {
                    Some(delivery) => {
                        let delivery = delivery?;
                        bytes += delivery.data.len();
                        uploads += uploads_in(&delivery.data, delivery.properties.headers().as_ref());
                        batch.push(delivery);
                    }
                    None => return Ok((batch, true)),
                },
            }
        }
        Ok((batch, false))
    }

    /// Decides, dead-letters, publishes the events of and acks one batch. `None` when shutdown interrupted it (the
    /// batch stays unacked and will be redelivered).
    async fn handle(
        &self,
        batch: &[Delivery],
        retry: Retry,
        cancel: &CancellationToken,
    ) -> Result<Option<()>, BrokerLost> {
        let bodies: Vec<&[u8]> = batch.iter().map(|d| d.data.as_slice()).collect();
        let redelivered = batch.iter().filter(|d| d.redelivered).count();
        let started = std::time::Instant::now();
        let skew = Duration::from_secs(self.config.consumer.max_clock_skew_seconds);
        let DecidedMessages {
            entries,
            decided,
            groups,
        } = match process_messages(
            &self.store,
            &self.config.limits,
            skew,
            &bodies,
            self.events.is_some(),
            retry,
            cancel,
        )
        .await
        {
            Ok(decided) => decided,
            Err(Stopped) => return Ok(None),
        };
        record_deliveries(batch, redelivered, entries.len(), groups);
        metrics::histogram!("intake_batch_write_seconds").record(started.elapsed().as_secs_f64());
        // Every dead letter is confirmed before the ack below takes its message off the queue.
        for (entry, outcome) in entries.iter().zip(&decided.outcomes) {
            if let Outcome::DeadLetter(reason) = outcome {
                let delivery = &batch[entry.message];
                match entry.part {
                    None => self.dead_letter(delivery, reason).await?,
                    Some(body) => self.dead_letter_part(delivery, body, reason).await?,
                }
            }
        }
        if let Some(publisher) = &self.events {
            let kinds = match events::kinds(&self.store, &decided, retry, cancel).await {
                Ok(Ok(kinds)) => kinds,
                Ok(Err(error)) => {
                    return Err(BrokerLost::Other(format!(
                        "cannot read the stored stamps for the events: {error}"
                    )));
                }
                Err(Stopped) => return Ok(None),
            };
            // Unconfirmed events leave the batch unacked: the connection is rebuilt and the
            // broker delivers the batch again, which emits the events again.
            publisher
                .publish(batch, &entries, &decided, &kinds)
                .await
                .map_err(|error| publish_failed("event", error))?;
        }
        if let Some(last) = batch.last() {
            last.acker.ack(BasicAckOptions { multiple: true }).await?;
        }
        self.stats.record(&decided.outcomes, redelivered);
        Ok(Some(()))
    }
}
