//! The test queue as a user of the broker sees it: each message's properties and the upload
//! ids it carries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::{self, TestApp};

use intake::wire::{self, Upload, group};
use lapin::options::BasicGetOptions;
use lapin::types::{AMQPValue, FieldTable};
use uuid::Uuid;

/// A message as it lies on the queue.
#[derive(Debug)]
pub struct Queued {
    pub content_type: String,
    pub schema: Option<u32>,
    pub size_header: Option<u32>,
    pub persistent: bool,
    pub message_id: String,
    /// The upload ids it carries, in order.
    pub uploads: Vec<Uuid>,
}

impl Queued {
    pub fn is_group(&self) -> bool {
        self.content_type == group::GROUP_CONTENT_TYPE
    }
}

fn header(headers: &FieldTable, name: &str) -> Option<u32> {
    match headers.inner().get(name)? {
        AMQPValue::LongUInt(n) => Some(*n),
        _ => None,
    }
}

/// Takes every message off the test's queue, straight from the broker (not through the
/// proxy).
pub async fn drain(app: &TestApp) -> Vec<Queued> {
    let conn = lapin::Connection::connect(&common::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut queued = Vec::new();
    while let Some(message) = channel
        .basic_get(
            app.config.broker.queue.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        let properties = &message.delivery.properties;
        let headers = properties.headers().clone().unwrap_or_default();
        let uploads = wire::split_bodies(&message.delivery.data)
            .unwrap()
            .into_iter()
            .map(|body| Upload::decode_own(body).unwrap().stamp.upload_id)
            .collect();
        queued.push(Queued {
            content_type: properties.content_type().as_ref().unwrap().to_string(),
            schema: header(&headers, wire::SCHEMA_HEADER),
            size_header: header(&headers, group::GROUP_SIZE_HEADER),
            persistent: *properties.delivery_mode() == Some(2),
            message_id: properties.message_id().as_ref().unwrap().to_string(),
            uploads,
        });
    }
    conn.close(200, "done".into()).await.unwrap();
    queued
}

/// Every upload id answered appears exactly once on the queue.
pub fn exactly_once(queued: &[Queued], answered: &[Uuid]) {
    let mut on_queue: Vec<Uuid> = queued.iter().flat_map(|m| m.uploads.clone()).collect();
    let mut answered = answered.to_vec();
    on_queue.sort_unstable();
    answered.sort_unstable();
    assert_eq!(on_queue, answered);
}

pub fn assert_single(message: &Queued, upload_id: Uuid) {
    assert_eq!(message.content_type, wire::CONTENT_TYPE, "{message:?}");
    assert_eq!(message.schema, Some(wire::SCHEMA_VERSION));
    assert_eq!(message.size_header, None);
    assert!(message.persistent);
    assert_eq!(message.uploads, vec![upload_id]);
    assert_eq!(message.message_id, upload_id.to_string());
}

pub async fn metrics(app: &TestApp) -> String {
    let url = format!("http://{}/metrics", app.metrics_address);
    app.http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
