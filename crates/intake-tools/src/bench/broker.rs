//! Broker limits and the project's broker paths, on a quorum queue of the benchmark's own:
//! raw confirmed publishing with a window of publishes in flight, raw consuming with one
//! `multiple` ack per batch, the front's publisher, and the consumer's decode-check-ack path
//! with the database replaced by a discarding sink.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeleteOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Rate, Shape, sample_session};
use intake::broker::{self, Publisher, ROUTING_KEY, publish_confirmed, upload_properties};
use intake::config::Config;
use intake::ordering::Stamp;
use intake::session::Limits;
use intake::wire::Upload;

/// Broker figures, all in messages per second.
#[derive(Debug, Serialize)]
pub struct BrokerFigures {
    /// Encoded size of one message, bytes.
    pub message_bytes: usize,
    /// Raw lapin publishes with confirms, `window` in flight.
    pub raw_publish: Rate,
    /// Raw consume, prefetch = consumer prefetch, one multiple ack per consumer batch.
    pub raw_consume: Rate,
    /// The front's `Publisher::publish`, `window` concurrent callers.
    pub front_publish: Rate,
    /// The consumer's path (batch, decode, check, multiple ack), no database.
    pub consumer_decode_ack: Rate,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn uploads(count: u64, shape: &Shape) -> Vec<Upload> {
    (0..count)
        .filter_map(|i| sample_session(i, u64::MAX, shape))
        .map(|session| Upload::create(1, Stamp::now("bench"), session))
        .collect()
}

/// Runs every broker measurement on `count` messages.
pub async fn measure(
    config: &Config,
    count: u64,
    window: usize,
    shape: Shape,
) -> Result<BrokerFigures, Error> {
    let conn = broker::connect(&config.broker, "intake-bench").await?;
    let channel = conn.create_channel().await?;
    broker::declare_topology(&channel, &config.broker).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let messages = uploads(count, &shape);
    let bodies: Vec<Vec<u8>> = messages.iter().map(Upload::encode).collect();
    let message_bytes = bodies.first().map_or(0, Vec::len);

    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(window.max(1)));
    let mut confirms = Vec::with_capacity(bodies.len());
    for (upload, body) in messages.iter().zip(&bodies) {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let (channel, exchange, body, properties) = (
            channel.clone(),
            config.broker.exchange.clone(),
            body.clone(),
            upload_properties(upload),
        );
        confirms.push(tokio::spawn(async move {
            let result =
                publish_confirmed(&channel, &exchange, ROUTING_KEY, &body, properties).await;
            drop(permit);
            result
        }));
    }
    for confirm in confirms {
        confirm.await??;
    }
    let raw_publish = Rate::of(count, started.elapsed());

    let raw_consume = consume(&conn, config, count, false).await?;

    let cancel = CancellationToken::new();
    let publisher = Publisher::start(
        config.broker.clone(),
        config.front.publish_channels,
        cancel.clone(),
    );
    while !publisher.is_ready() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let messages = Arc::new(messages);
    let mut tasks = Vec::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..window.max(1) {
        let (publisher, messages, next) = (
            Arc::clone(&publisher),
            Arc::clone(&messages),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(upload) = messages.get(index) else {
                    return Ok::<(), Error>(());
                };
                publisher.publish(upload, Duration::from_secs(30)).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let front_publish = Rate::of(count, started.elapsed());
    cancel.cancel();

    let consumer_decode_ack = consume(&conn, config, count, true).await?;
    channel
        .queue_purge(
            config.broker.queue.as_str().into(),
            QueuePurgeOptions::default(),
        )
        .await?;
    for queue in [&config.broker.queue, &config.broker.dead_letter_queue] {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    conn.close(200, "bench done".into()).await?;
    Ok(BrokerFigures {
        message_bytes,
        raw_publish,
        raw_consume,
        front_publish,
        consumer_decode_ack,
    })
}

/// Consumes `count` messages with the consumer's prefetch and batch size, one multiple ack
/// per batch; with `decode`, each body also goes through the consumer's decode and checks.
async fn consume(
    conn: &lapin::Connection,
    config: &Config,
    count: u64,
    decode: bool,
) -> Result<Rate, Error> {
    let channel = conn.create_channel().await?;
    channel
        .basic_qos(config.consumer.prefetch, BasicQosOptions::default())
        .await?;
    let mut deliveries = channel
        .basic_consume(
            config.broker.queue.as_str().into(),
            "intake-bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let limits = Limits::default();
    let batch_size = config.consumer.batch_size.max(1) as u64;
    let started = Instant::now();
    let mut seen = 0u64;
    while seen < count {
        let Some(delivery) = deliveries.next().await else {
            break;
        };
        let delivery = delivery?;
        seen += 1;
        if decode && Upload::decode(&delivery.data, &limits).is_err() {
            return Err("a benchmark message did not decode".into());
        }
        if seen % batch_size == 0 || seen == count {
            delivery
                .acker
                .ack(BasicAckOptions { multiple: true })
                .await?;
        }
    }
    let rate = Rate::of(seen, started.elapsed());
    channel.close(200, "bench done".into()).await?;
    Ok(rate)
}
