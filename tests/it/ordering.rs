//! Replacement by acceptance order: messages published straight to the queue, out of order
//! and more than once, consumed by competing consumers, end as the last-accepted version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::broker::{dead_letter_reason, next_dead_letter, publish_messages, single};
use common::{TestApp, eventually, raw_channel};
use intake::ordering::Stamp;
use intake::session::Session;
use intake::session::write::Write;
use intake::wire::Upload;
use serde_json::json;

/// Version `version` of session `uuid`, accepted at `base + version` microseconds.
fn version(project_id: i64, uuid: &str, version: i64, base: i64) -> Upload {
    let session: Session = serde_json::from_value(json!({
        "uuid": uuid,
        "unit_id": format!("v{version}"),
        "created": 1_700_000_000,
        "saved": 1_700_000_000 + version,
        "points": {
            format!("only-in-v{version}"): {"Text": "x"},
            "blob": {"Raw": [version as u8, 0, 255]},
        },
    }))
    .unwrap();
    let stamp = Stamp {
        upload_id: uuid::Uuid::now_v7(),
        received_micros: base + version,
        received_from: "replayer".into(),
    };
    Upload::create(project_id, stamp, session)
}

async fn publish_all(app: &TestApp, uploads: &[Upload]) {
    let refs: Vec<&Upload> = uploads.iter().collect();
    common::publish_uploads(app, &refs).await;
}

/// A deterministic shuffle, so a failure reproduces.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

#[tokio::test]
async fn out_of_order_duplicates_with_two_consumers_end_with_the_last_accepted() {
    let mut app = TestApp::front_only().await;
    let base = chrono::Utc::now().timestamp_micros();
    let uuids: Vec<String> = (0..40).map(|i| format!("dev-{i}")).collect();
    let mut uploads: Vec<Upload> = Vec::new();
    for uuid in &uuids {
        for v in 1..=4 {
            let upload = version(app.project_id, uuid, v, base);
            uploads.push(upload.clone());
            uploads.push(upload); // every message twice: at-least-once delivery
        }
    }
    shuffle(&mut uploads, 7);
    publish_all(&app, &uploads).await;
    app.start_consumer_with(|c| c.consumer.batch_size = 16);
    app.start_consumer_with(|c| c.consumer.batch_size = 16);

    for uuid in &uuids {
        let stored = eventually("last version stored", Duration::from_secs(60), || async {
            app.stored_now(uuid).await.filter(|s| s.unit_id == "v4")
        })
        .await;
        assert_eq!(
            stored.points,
            json!({"only-in-v4": "x"}),
            "{uuid}: replaced whole"
        );
        assert_eq!(stored.saved, 1_700_000_004);
        assert_eq!(stored.attachments.len(), 1);
        assert_eq!(stored.attachments[0].4, vec![4, 0, 255]);
    }
    assert_eq!(common::count(&app.db.url, "sessions"), 40);
    assert_eq!(common::count(&app.db.url, "attachments"), 40);

    // Replaying the whole archive again, older versions included, changes nothing.
    app.stop_consumers().await;
    let before: Vec<_> =
        futures_util::future::join_all(uuids.iter().map(|u| app.stored_now(u))).await;
    let mut replay = uploads.clone();
    shuffle(&mut replay, 11);
    let marker = version(app.project_id, "marker", 1, base);
    replay.push(marker);
    publish_all(&app, &replay).await;
    app.start_consumer(); // one consumer: the marker is decided after everything before it
    app.stored("marker").await;
    let after: Vec<_> =
        futures_util::future::join_all(uuids.iter().map(|u| app.stored_now(u))).await;
    assert_eq!(before, after, "a replay must not change stored sessions");
}

#[tokio::test]
async fn a_later_upload_consumed_first_is_not_overwritten() {
    let mut app = TestApp::front_only().await;
    let base = chrono::Utc::now().timestamp_micros();
    let newer = version(app.project_id, "late", 2, base);
    let older = version(app.project_id, "late", 1, base);
    publish_all(&app, &[newer]).await;
    app.start_consumer();
    assert_eq!(app.stored("late").await.unit_id, "v2");
    publish_all(&app, &[older, version(app.project_id, "marker", 1, base)]).await;
    app.stored("marker").await;
    let stored = app.stored_now("late").await.unwrap();
    assert_eq!(stored.unit_id, "v2");
    assert_eq!(stored.attachments[0].4, vec![2, 0, 255]);
}

#[tokio::test]
async fn unstorable_messages_go_to_the_dead_letter_queue_with_a_reason() {
    let mut app = TestApp::front_only().await;
    let base = chrono::Utc::now().timestamp_micros();
    let mut invalid = version(app.project_id, "bad", 1, base);
    let Write::Create(session) = &mut invalid.operation else {
        unreachable!("a create")
    };
    *session = serde_json::from_value(json!({
        "uuid": "bad", "unit_id": "", "created": 0, "saved": 0, "points": {}
    }))
    .unwrap();
    let unknown_project = version(999_999, "orphan", 1, base);
    let good = version(app.project_id, "good", 1, base);
    let undecodable = (b"not a message".to_vec(), lapin::BasicProperties::default());
    let messages = [
        &undecodable,
        &single(&invalid),
        &single(&unknown_project),
        &single(&good),
    ];
    publish_messages(&app, &messages).await;
    app.start_consumer();
    app.stored("good").await;

    let (conn, channel) = raw_channel(&app.config).await;
    let mut reasons = Vec::new();
    while reasons.len() < 3 {
        let got = next_dead_letter(&app, &channel).await;
        reasons.push((dead_letter_reason(&got).unwrap(), got.delivery.data.clone()));
    }
    reasons.sort();
    assert!(
        reasons
            .iter()
            .any(|(r, body)| r.contains("undecodable") && body == b"not a message"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|(r, _)| r.contains("session[unit_id]")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(r, _)| r.contains("project 999999 does not exist")),
        "{reasons:?}"
    );
    // The dead-lettered body is the original, so it can be republished as is.
    let republishable = reasons.iter().find(|(r, _)| r.contains("999999")).unwrap();
    assert_eq!(republishable.1, unknown_project.encode());
    assert_eq!(common::count(&app.db.url, "sessions"), 1);
    conn.close(200, "done".into()).await.unwrap();
}
