//! One batch of a worker: gathered after its first delivery, decided (every upload of
//! every message, [`process_messages`]), dead letters published and confirmed, the
//! stored-events published when they are on, and only then acked with one `multiple` ack.

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use tokio_util::sync::CancellationToken;

use super::dead_letter::publish_failed;
use super::events;
use super::handle::{Outcome, Retry, Stopped};
use super::messages::{DecidedMessages, process_messages, uploads_in};
use super::stats::record_deliveries;
use super::{BrokerLost, Worker};

impl Worker {
    /// Gathers a batch after its first delivery: up to `batch_size` uploads (a group message
    /// counts its uploads) or `batch_bytes` of messages, or what arrives within the linger.
    /// The message that crosses a limit still joins, so a batch may hold more uploads than
    /// the prefetch count. `true` when the subscription ended.
    pub(super) async fn gather(
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

    /// Decides, dead-letters, publishes the events of and acks one batch. `None` when
    /// shutdown interrupted it (the batch stays unacked and will be redelivered).
    pub(super) async fn handle(
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
