//! Messages that carry several uploads (schema 3), published by hand onto the test's queue
//! beside messages of the older formats: every upload is stored, an upload that can never be
//! stored reaches the dead letters alone, and a group delivered again changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::broker::{Message, publish_messages, single};
use common::ops::{Clock, create, read_when, settle, update};
use common::{TestApp, eventually, raw_channel};
use intake::broker;
use intake::config::Config;
use intake::wire::group::{GROUP_CONTENT_TYPE, GROUP_SIZE_HEADER};
use intake::wire::{GROUP_SCHEMA_VERSION, SCHEMA_HEADER, Upload, encode_group};
use lapin::BasicProperties;
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

/// A group message of the given single-upload bodies.
pub(crate) fn group_of(bodies: &[Vec<u8>]) -> Message {
    let mut headers = FieldTable::default();
    headers.insert(
        SCHEMA_HEADER.into(),
        AMQPValue::LongUInt(GROUP_SCHEMA_VERSION),
    );
    let size = u32::try_from(bodies.len()).unwrap();
    headers.insert(GROUP_SIZE_HEADER.into(), AMQPValue::LongUInt(size));
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap();
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(GROUP_CONTENT_TYPE.into())
        .with_timestamp(now)
        .with_headers(headers);
    (encode_group(bodies), properties)
}

/// A group message of uploads.
pub(crate) fn group(uploads: &[&Upload]) -> Message {
    group_of(&uploads.iter().map(|u| u.encode()).collect::<Vec<_>>())
}

/// Messages in a queue, ready (once the consumers stopped, unacked ones are ready again).
pub(crate) async fn queued(config: &Config, queue: &str) -> u32 {
    let (conn, channel) = raw_channel(config).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap();
    conn.close(200, "done".into()).await.unwrap();
    queue.message_count()
}

fn uploads_queue(config: &Config) -> String {
    broker::partition::queue_name(&config.broker, 0)
}

fn clock(app: &TestApp) -> Clock {
    Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros() - 60_000_000,
    }
}

#[tokio::test]
async fn groups_are_stored_beside_messages_of_the_older_formats() {
    let mut app = TestApp::front_only().await;
    let clock = clock(&app);
    let creates: Vec<Upload> = (0..12)
        .map(|i| {
            let points = json!({"a": {"Text": format!("t{i}")}});
            clock.at(i + 1, create(&format!("g-{i}"), "u", points))
        })
        .collect();
    let alone = clock.at(20, create("s-1", "u", json!({})));
    let updated = clock.at(30, update("g-0", json!({"b": {"Text": "later"}})));
    let refs: Vec<&Upload> = creates.iter().collect();
    publish_messages(
        &app,
        &[
            &group(&refs[0..4]),
            &single(&alone),
            &group(&refs[4..9]),
            &single(&updated),
            &group(&refs[9..12]),
        ],
    )
    .await;
    // Groups cross the batch size: a batch takes whole messages.
    app.start_consumer_with(|c| c.consumer.batch_size = 3);
    for (i, upload) in creates.iter().enumerate().skip(1) {
        let id = format!("g-{i}");
        let stored = app.stored(&id).await;
        assert_eq!(stored.upload_id, upload.stamp.upload_id);
        assert_eq!(stored.points, json!({"a": format!("t{i}")}));
    }
    let first = read_when(&app, "g-0", |s| s["data"]["b"] == "later").await;
    assert_eq!(first["data"], json!({"a": "t0", "b": "later"}));
    assert_eq!(app.stored("s-1").await.unit_id, "u");
    app.stop_consumers().await;
    assert_eq!(queued(&app.config, &uploads_queue(&app.config)).await, 0);
    assert_eq!(
        queued(&app.config, &app.config.broker.dead_letter_queue).await,
        0
    );
    // The process-wide metrics (shared by every test here): groups are counted.
    let metrics = intake::telemetry::metrics_handle().render();
    let groups = metrics
        .lines()
        .find_map(|line| line.strip_prefix("intake_group_deliveries_total "))
        .and_then(|value| value.trim().parse::<f64>().ok());
    assert!(groups.is_some_and(|n| n >= 3.0), "{metrics}");
}

#[tokio::test]
async fn a_group_delivered_again_or_overlapping_singles_changes_nothing() {
    let mut app = TestApp::front_only().await;
    let clock = clock(&app);
    let id = |i: usize| format!("r-{i}");
    let v1: Vec<Upload> = (0..6)
        .map(|i| {
            clock.at(
                1 + i as i64,
                create(&id(i), "v1", json!({"a": {"Text": "1"}})),
            )
        })
        .collect();
    let v2: Vec<Upload> = (0..6)
        .map(|i| {
            clock.at(
                10 + i as i64,
                create(&id(i), "v2", json!({"a": {"Text": "2"}})),
            )
        })
        .collect();
    let touched = clock.at(20, update(&id(3), json!({"b": {"Text": "u"}})));
    let a = group(&v1.iter().collect::<Vec<_>>());
    let b = group(&[&v2[0], &v2[1], &v2[2], &touched]);
    let c = group(&[&v2[5], &v1[4]]);
    let mut messages = vec![&b, &a];
    let singles: Vec<Message> = v2[3..6].iter().chain([&v1[0]]).map(single).collect();
    messages.extend(&singles);
    messages.extend([&c, &a, &b]);
    publish_messages(&app, &messages).await;
    app.start_consumer_with(|c| c.consumer.batch_size = 4);
    let check = |app: &TestApp| {
        let (url, project) = (app.db.url.clone(), app.project_id);
        let v2 = v2.clone();
        async move {
            let mut rows = Vec::new();
            for (i, upload) in v2.iter().enumerate() {
                let row = common::load_session(&url, project, &format!("r-{i}"))?;
                let want = match i {
                    3 => json!({"a": "2", "b": "u"}),
                    _ => json!({"a": "2"}),
                };
                (row.upload_id == upload.stamp.upload_id && row.points == want).then_some(())?;
                rows.push(row);
            }
            Some(rows)
        }
    };
    let before = eventually("every session at v2", Duration::from_secs(60), || {
        check(&app)
    })
    .await;
    // Everything once more, after the consumers settled: the same state.
    publish_messages(&app, &messages).await;
    settle(&mut app, &clock).await;
    let after = check(&app).await.expect("still at v2");
    assert_eq!(before, after);
    app.stop_consumers().await;
    assert_eq!(queued(&app.config, &uploads_queue(&app.config)).await, 0);
}

#[tokio::test]
async fn a_group_that_cannot_be_split_is_dead_lettered_whole() {
    let mut app = TestApp::spawn().await;
    let clock = clock(&app);
    let good = clock.at(1, create("after-broken", "u", json!({})));
    let (body, properties) = group(&[&good, &good]);
    let broken = body[..body.len() - 3].to_vec();
    let empty = group_of(&[]);
    publish_messages(
        &app,
        &[&(broken.clone(), properties), &empty, &single(&good)],
    )
    .await;
    app.stored("after-broken").await;
    let entries = eventually("two dead letters", Duration::from_secs(30), || async {
        let entries = intake_tools::dlq::list(&app.config, 10).await.unwrap();
        (entries.len() == 2).then_some(entries)
    })
    .await;
    let mut sizes: Vec<usize> = entries.iter().map(|e| e.size_bytes).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![empty.0.len(), broken.len()]);
    for entry in &entries {
        let reason = entry.reason.as_deref().unwrap();
        assert!(reason.contains("upload group"), "{reason}");
        assert_eq!(entry.upload_id, None);
    }
    app.stop_consumers().await;
    assert_eq!(queued(&app.config, &uploads_queue(&app.config)).await, 0);
}
