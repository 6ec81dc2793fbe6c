//! Large uploads: the consumer keeps about `prefetch_bytes` of deliveries in hand and writes
//! batches of at most `batch_bytes`, re-subscribing when the message size changes, and still
//! stores every upload (replacements included) exactly as the small-message path does; the
//! front answers a large write with the same `result` as a small one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{TestApp, eventually};
use intake::ordering::Stamp;
use intake::session::Session;
use intake::wire::Upload;
use serde_json::json;

/// Version `version` of session `uuid` with a `blob` of `size` bytes derived from both.
fn upload(project_id: i64, uuid: &str, version: u8, size: usize, base: i64) -> Upload {
    let blob: Vec<u8> = (0..size).map(|i| (i as u8) ^ version).collect();
    let session: Session = serde_json::from_value(json!({
        "uuid": uuid,
        "unit_id": format!("v{version}"),
        "created": 1_700_000_000,
        "saved": 1_700_000_000,
        "points": {"note": {"Text": "x"}, "blob": {"Raw": blob}},
    }))
    .unwrap();
    let stamp = Stamp {
        upload_id: uuid::Uuid::now_v7(),
        received_micros: base + i64::from(version),
        received_from: "replayer".into(),
    };
    Upload::create(project_id, stamp, session)
}

#[tokio::test]
async fn large_then_small_uploads_are_all_stored_with_a_byte_sized_prefetch() {
    let mut app = TestApp::front_only().await;
    let base = chrono::Utc::now().timestamp_micros();
    // Newer versions first, so every older one that follows must lose.
    let mut uploads = Vec::new();
    for version in [2, 1] {
        for i in 0..30 {
            uploads.push(upload(
                app.project_id,
                &format!("big-{i}"),
                version,
                60_000,
                base,
            ));
        }
    }
    for i in 0..300 {
        uploads.push(upload(app.project_id, &format!("small-{i}"), 1, 100, base));
    }
    let refs: Vec<&Upload> = uploads.iter().collect();
    common::publish_uploads(&app, &refs).await;
    app.start_consumer_with(|c| {
        c.consumer.prefetch_bytes = 240_000;
        c.consumer.batch_bytes = 180_000;
    });

    eventually(
        "every small upload stored",
        Duration::from_secs(60),
        || async { (common::count(&app.db.url, "sessions") == 330).then_some(()) },
    )
    .await;
    for i in 0..30 {
        let stored = app.stored(&format!("big-{i}")).await;
        assert_eq!(stored.unit_id, "v2", "big-{i}: the newer version stays");
        let expected: Vec<u8> = (0..60_000).map(|i| (i as u8) ^ 2).collect();
        assert_eq!(stored.attachments.len(), 1);
        assert_eq!(stored.attachments[0].4, expected, "big-{i}: its bytes");
    }
    assert_eq!(common::count(&app.db.url, "attachments"), 330);
}

/// Writes over `front.group_alone_bytes` are not held while the broker confirms: their `202`
/// result is built from the published body read back, and must be what a small write's is.
#[tokio::test]
async fn large_writes_answer_what_a_read_shows_afterwards() {
    let app = TestApp::spawn().await;
    let big = |c: char| c.to_string().repeat(100_000);
    let create = json!({"session": {"uuid": "big-answer", "unit_id": "unit-1", "created": 1_000,
        "data": {"Note": big('n'), "small": "s", "sketch": {"rawData": "AAE="}}}});
    let sessions = app.project_path("/sessions");
    let (status, body) = app
        .send_json(reqwest::Method::POST, &sessions, Some(create))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"]["data"]["note"], big('n'));
    let stored = app.read_until("big-answer", |_| true).await;
    assert_eq!(
        stored, body["result"],
        "the 202 result is what a read shows"
    );

    let update = json!({"session": {"data": {"note": big('u'), "added": "a"}}});
    let path = app.project_path("/sessions/big-answer");
    let (status, body) = app
        .send_json(reqwest::Method::PUT, &path, Some(update))
        .await;
    assert_eq!(status, 202, "{body}");
    let predicted = body["result"].clone();
    assert_eq!(predicted["data"]["note"], big('u'));
    assert_eq!(predicted["data"]["small"], "s");
    let stored = app
        .read_until("big-answer", |s| s["data"]["added"] == "a")
        .await;
    assert_eq!(stored, predicted, "the 202 result is what a read shows");
}
