//! The broker as tests reach it past the front: a publishing channel on the test's topology,
//! messages published in order and confirmed, and dead letters taken off their queue.

use std::time::Duration;

use intake::broker::{self, ROUTING_KEY, publish_confirmed, upload_properties};
use intake::config::Config;
use intake::wire::Upload;
use lapin::BasicProperties;
use lapin::message::BasicGetMessage;
use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;

use super::{TestApp, eventually};

/// One message as it goes on the queue: body and properties.
pub type Message = (Vec<u8>, BasicProperties);

/// A publishing connection to the test's topology, for messages that skip the front.
pub async fn raw_channel(config: &Config) -> (lapin::Connection, lapin::Channel) {
    let conn = broker::connect(&config.broker, "intake-test")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    broker::declare_topology(&channel, &config.broker)
        .await
        .unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    (conn, channel)
}

/// A single-upload message, as a front publishes it alone.
pub fn single(upload: &Upload) -> Message {
    (upload.encode(), upload_properties(upload))
}

/// Publishes messages to the test's exchange in order, confirmed.
pub async fn publish_messages(app: &TestApp, messages: &[&Message]) {
    let (conn, channel) = raw_channel(&app.config).await;
    for (body, properties) in messages {
        publish_confirmed(
            &channel,
            &app.config.broker.exchange,
            ROUTING_KEY,
            body,
            properties.clone(),
        )
        .await
        .unwrap();
    }
    conn.close(200, "done".into()).await.unwrap();
}

/// Publishes uploads straight to the test's exchange, confirmed, skipping the front (as
/// replays and other publishers do).
pub async fn publish_uploads(app: &TestApp, uploads: &[&Upload]) {
    let messages: Vec<Message> = uploads.iter().map(|upload| single(upload)).collect();
    publish_messages(app, &messages.iter().collect::<Vec<_>>()).await;
}

/// Waits for the next message on the test's dead-letter queue and takes it off.
pub async fn next_dead_letter(app: &TestApp, channel: &lapin::Channel) -> BasicGetMessage {
    let queue = app.config.broker.dead_letter_queue.as_str();
    eventually("dead letter", Duration::from_secs(20), || async {
        channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
    })
    .await
}

/// Why the consumer dead-lettered a message (its `x-intake-reason` header).
pub fn dead_letter_reason(message: &BasicGetMessage) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get("x-intake-reason")? {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        _ => None,
    }
}
