//! Dead letters of group messages: an upload of a group that can never be stored reaches the
//! dead-letter queue alone, as a single-upload message with its reason, while the rest of
//! its group is stored; the `dlq` tools show it and requeue it once fixed. A group on the
//! dead-letter queue (as RabbitMQ leaves one at the delivery limit) is listed one entry per
//! upload, and `replay broker` replays a saved group as its uploads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::broker::publish_messages;
use crate::groups::{group, group_of, queued};
use crate::tools_dlq::{create_project_with_id, upload};

use std::time::Duration;

use common::ops::{Clock, create};
use common::{TestApp, eventually, raw_channel};
use intake::broker::{REASON_HEADER, publish_confirmed};
use intake::wire::group::GROUP_SIZE_HEADER;
use intake::wire::{CONTENT_TYPE, Upload};
use intake_tools::dlq::{self, DlqEntry, Filter};
use intake_tools::replay::{self, BrokerReplayOptions};
use lapin::types::{AMQPValue, LongString};
use serde_json::json;

async fn dead_letters(app: &TestApp, count: usize) -> Vec<DlqEntry> {
    eventually("dead letters", Duration::from_secs(30), || async {
        let mut entries = dlq::list(&app.config, 100).await.unwrap();
        entries.sort_by_key(|entry| entry.upload_id.clone());
        (entries.len() == count).then_some(entries)
    })
    .await
}

async fn stored_in(app: &TestApp, project: i64, uuid: &str) -> common::StoredSession {
    eventually("stored", Duration::from_secs(30), || {
        let (url, uuid) = (app.db.url.clone(), uuid.to_owned());
        async move {
            tokio::task::spawn_blocking(move || common::load_session(&url, project, &uuid))
                .await
                .unwrap()
        }
    })
    .await
}

#[tokio::test]
async fn one_bad_upload_of_a_group_is_dead_lettered_alone_and_requeued_once_fixed() {
    let mut app = TestApp::spawn().await;
    let late = app.project_id + 100;
    let first = upload(app.project_id, "group-first");
    let waiting = upload(late, "group-waits");
    let last = upload(app.project_id, "group-last");
    let garbage = vec![0x92, 0x01, 0x02];
    let message = group_of(&[
        first.encode(),
        waiting.encode(),
        garbage.clone(),
        last.encode(),
    ]);
    publish_messages(&app, &[&message]).await;
    assert_eq!(
        app.stored("group-first").await.upload_id,
        first.stamp.upload_id
    );
    assert_eq!(
        app.stored("group-last").await.upload_id,
        last.stamp.upload_id
    );

    let entries = dead_letters(&app, 2).await;
    let undecodable = entries.iter().find(|e| e.upload_id.is_none()).unwrap();
    assert_eq!(undecodable.size_bytes, garbage.len());
    assert!(
        undecodable
            .reason
            .as_deref()
            .unwrap()
            .contains("undecodable"),
        "{undecodable:?}"
    );
    let entry = entries.iter().find(|e| e.upload_id.is_some()).unwrap();
    let id = waiting.stamp.upload_id.to_string();
    assert_eq!(entry.upload_id.as_deref(), Some(id.as_str()));
    assert_eq!(entry.project_id, Some(late));
    assert_eq!(entry.uuid.as_deref(), Some("group-waits"));
    assert_eq!(entry.size_bytes, waiting.encode().len());
    let reason = entry.reason.as_deref().unwrap();
    assert!(
        reason.contains(&format!("project {late} does not exist")),
        "{reason}"
    );

    // The dead letter is the single-upload message the upload would have been alone.
    let save = std::env::temp_dir().join(format!("intake-dlq-{}", uuid::Uuid::new_v4()));
    let shown = dlq::show(&app.config, &id, Some(&save))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(shown.properties["content_type"], CONTENT_TYPE);
    assert_eq!(shown.properties["message_id"], id);
    assert_eq!(shown.headers["x-intake-project"], late.to_string());
    assert_eq!(shown.headers["x-intake-schema"], "1");
    assert!(!shown.headers.contains_key(GROUP_SIZE_HEADER));
    assert_eq!(shown.session.as_ref().unwrap().uuid, "group-waits");
    let saved = std::fs::read(save.join(format!("{id}.msgpack"))).unwrap();
    assert_eq!(saved, waiting.encode());
    std::fs::remove_dir_all(&save).unwrap();

    create_project_with_id(&app, late);
    let by_project = Filter {
        project_id: Some(late),
        ..Filter::default()
    };
    let requeued = dlq::requeue(&app.config, &by_project, false).await.unwrap();
    assert_eq!((requeued.matched, requeued.done), (1, 1), "{requeued}");
    let stored = stored_in(&app, late, "group-waits").await;
    assert_eq!(stored.upload_id, waiting.stamp.upload_id);
    assert_eq!(dead_letters(&app, 1).await[0].upload_id, None);
    app.stop_consumers().await;
    let queue = intake::broker::partition::queue_name(&app.config.broker, 0);
    assert_eq!(queued(&app.config, &queue).await, 0, "nothing left unacked");
}

#[tokio::test]
async fn a_group_on_the_dead_letter_queue_is_listed_per_upload_and_requeued() {
    let app = TestApp::spawn().await;
    let late = app.project_id + 100;
    let uploads: Vec<Upload> = (0..3)
        .map(|i| upload(late, &format!("whole-{i}")))
        .collect();
    let (body, properties) = group(&uploads.iter().collect::<Vec<_>>());
    // As RabbitMQ dead-letters a message at the delivery limit: the group whole.
    let mut headers = properties.headers().clone().unwrap();
    headers.insert(
        REASON_HEADER.into(),
        AMQPValue::LongString(LongString::from(b"delivery limit".to_vec())),
    );
    let (conn, channel) = raw_channel(&app.config).await;
    publish_confirmed(
        &channel,
        &app.config.broker.dead_letter_exchange,
        "",
        &body,
        properties.with_headers(headers),
    )
    .await
    .unwrap();
    conn.close(200, "done".into()).await.unwrap();

    let entries = dead_letters(&app, 3).await;
    for (entry, upload) in entries.iter().zip(&uploads) {
        let id = upload.stamp.upload_id.to_string();
        assert_eq!(entry.upload_id.as_deref(), Some(id.as_str()));
        assert_eq!(entry.project_id, Some(late));
        assert_eq!(entry.uuid, Some(upload.uuid().as_str().to_owned()));
        assert_eq!(entry.reason.as_deref(), Some("delivery limit"));
        assert_eq!(entry.size_bytes, upload.encode().len());
    }
    // Collected again (another listing), still one each.
    assert_eq!(dlq::list(&app.config, 100).await.unwrap().len(), 3);

    create_project_with_id(&app, late);
    let all = Filter {
        all: true,
        ..Filter::default()
    };
    let requeued = dlq::requeue(&app.config, &all, false).await.unwrap();
    assert_eq!((requeued.matched, requeued.done), (3, 3), "{requeued}");
    for upload in &uploads {
        let stored = stored_in(&app, late, upload.uuid().as_str()).await;
        assert_eq!(stored.upload_id, upload.stamp.upload_id);
    }
    assert!(dlq::list(&app.config, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn replay_broker_replays_a_saved_group_as_its_uploads() {
    let app = TestApp::spawn().await;
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros() - 60_000_000,
    };
    let uploads: Vec<Upload> = (0..3)
        .map(|i| clock.at(i + 1, create(&format!("replayed-{i}"), "u", json!({}))))
        .collect();
    let mut bodies: Vec<Vec<u8>> = uploads.iter().map(Upload::encode).collect();
    bodies.push(vec![0x92, 0x01, 0x02]);
    let dir = std::env::temp_dir().join(format!("intake-replay-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("group.msgpack"), group_of(&bodies).0).unwrap();
    let options = BrokerReplayOptions {
        path: dir.clone(),
        broker: app.config.broker.clone(),
        limits: app.config.limits,
        rate: None,
        window: 4,
        dry_run: false,
        progress: false,
    };
    let report = replay::replay_broker(options).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (
            report.read,
            report.valid,
            report.accepted,
            report.failed_total()
        ),
        (4, 3, 3, 1),
        "{report}"
    );
    for upload in &uploads {
        let stored = app.stored(upload.uuid().as_str()).await;
        assert_eq!(stored.upload_id, upload.stamp.upload_id);
    }
}
