//! `intake events tail`: prints stored-events live, one JSON line each, for operators and
//! as the smallest subscriber (docs/EVENTS.md). It reads through a server-named exclusive
//! queue of its own, bound with the pattern of the wanted project and kind, so it takes
//! nothing from other subscribers and leaves nothing behind when it stops.

use std::io::Write as _;

use futures_util::StreamExt as _;
use intake::broker;
use intake::config::Config;
use intake::events::{Kind, binding_pattern};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use tokio_util::sync::CancellationToken;

use crate::ToolError;

/// A live subscription to the events exchange.
pub struct Subscription {
    /// Kept open for as long as the subscription lives: the queue goes with it.
    pub connection: Connection,
    /// The events, in the order the broker routed them.
    pub events: Consumer,
}

/// Subscribes to the events of `project` (any when `None`) of `kind` (any when `None`).
/// Declares the exchange too, so a subscriber may start before any consumer.
pub async fn subscribe(
    config: &Config,
    project: Option<i64>,
    kind: Option<Kind>,
) -> Result<Subscription, ToolError> {
    let connection = broker::connect(&config.broker, "intake-events-tail").await?;
    let channel = connection.create_channel().await?;
    broker::declare_events_exchange(&channel, &config.broker).await?;
    let private = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), private, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            queue.name().as_str().into(),
            config.broker.events_exchange.as_str().into(),
            binding_pattern(project, kind).as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let events = channel
        .basic_consume(
            queue.name().as_str().into(),
            "intake-events-tail".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Subscription { connection, events })
}

/// Prints every event as one line on stdout until `stop` fires (`Ok`) or the broker goes
/// away (an error: the tail did not keep running as asked).
pub async fn tail(
    config: &Config,
    project: Option<i64>,
    kind: Option<Kind>,
    stop: CancellationToken,
) -> Result<(), ToolError> {
    let Subscription {
        connection,
        mut events,
    } = subscribe(config, project, kind).await?;
    eprintln!(
        "listening on {} for {}",
        config.broker.events_exchange,
        binding_pattern(project, kind)
    );
    let result = loop {
        let next = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            next = events.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(error)) => break Err(ToolError::Broker(error)),
            None => {
                break Err(ToolError::Options(
                    "the broker ended the subscription".into(),
                ));
            }
        };
        let mut out = std::io::stdout().lock();
        let written = out
            .write_all(&delivery.data)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
        if let Err(source) = written {
            // A closed pipe (`| head`) ends the tail like a stop.
            if source.kind() == std::io::ErrorKind::BrokenPipe {
                break Ok(());
            }
            break Err(ToolError::io(std::path::Path::new("stdout"), source));
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
    };
    broker::close_quietly(connection.close(200, "tail stopped".into())).await;
    result
}
