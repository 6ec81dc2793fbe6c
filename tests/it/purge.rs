//! `intake purge`: what remains after a purge (tombstones, no points, no attachments, live
//! sessions untouched), reads that never show tombstones, older uploads replayed after a
//! purge that change nothing, and newer creates that bring a session back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::PathBuf;

use common::ops::{Clock, create, file, publish, read_when, settle, update};
use common::{TestApp, count};
use diesel::prelude::*;
use intake::store::purge::Selection;
use intake::wire::Upload;
use intake_tools::purge::{PurgeOptions, PurgeReport, purge};
use intake_tools::replay::{self, BrokerReplayOptions};
use serde_json::json;

fn options(app: &TestApp, selection: Option<Selection>, dry_run: bool) -> PurgeOptions {
    PurgeOptions {
        project_id: app.project_id,
        selection,
        tombstones_before: None,
        dry_run,
        batch_size: 2,
        progress: false,
    }
}

pub fn run(app: &TestApp, options: &PurgeOptions) -> PurgeReport {
    purge(&mut app.db.conn(), options).unwrap()
}

/// A session's row as text: what a purge leaves and what must not change afterwards.
fn row(app: &TestApp, uuid: &str) -> Option<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    diesel::sql_query(
        "SELECT row_to_json(s)::text AS line FROM sessions s WHERE project_id = $1 AND uuid = $2",
    )
    .bind::<diesel::sql_types::BigInt, _>(app.project_id)
    .bind::<diesel::sql_types::Text, _>(uuid)
    .get_result::<Line>(&mut app.db.conn())
    .optional()
    .unwrap()
    .map(|line| line.line)
}

fn tombstones(app: &TestApp) -> i64 {
    count(&app.db.url, "sessions WHERE purged_at IS NOT NULL")
}

fn attachments_of(app: &TestApp, uuid: &str) -> i64 {
    count(
        &app.db.url,
        &format!("attachments a JOIN sessions s ON s.id = a.session_id WHERE s.uuid = '{uuid}'"),
    )
}

#[tokio::test]
async fn purge_removes_deleted_sessions_and_leaves_only_tombstones() {
    let app = TestApp::spawn().await;
    for uuid in ["keep", "gone-1", "gone-2"] {
        app.create_stored(
            &json!({"session": {"uuid": uuid, "unit_id": "dev-1", "data": {
            "note": "hello", "photo": {"rawData": "AQID"}}}}),
        )
        .await;
    }
    for uuid in ["gone-1", "gone-2"] {
        let path = app.project_path(&format!("/sessions/{uuid}"));
        let (status, body) = app.send_json(reqwest::Method::DELETE, &path, None).await;
        assert_eq!(status, 202, "{body}");
        app.read_until(uuid, |s| s["is_deleted"] == true).await;
    }

    let dry = run(&app, &options(&app, Some(Selection::Deleted(None)), true));
    assert_eq!(
        (dry.sessions, dry.attachments, dry.attachment_bytes),
        (2, 2, 6),
        "{dry}"
    );
    assert_eq!(tombstones(&app), 0, "a dry run changes nothing");
    assert_eq!(attachments_of(&app, "gone-1"), 1);

    let done = run(&app, &options(&app, Some(Selection::Deleted(None)), false));
    assert_eq!(
        (done.sessions, done.attachments, done.busy),
        (2, 2, 0),
        "{done}"
    );
    assert_eq!(done.batches, 1, "two rows in one batch of two: {done}");
    assert_eq!(tombstones(&app), 2);
    for uuid in ["gone-1", "gone-2"] {
        assert_eq!(attachments_of(&app, uuid), 0);
        let stored = row(&app, uuid).unwrap();
        assert!(stored.contains("\"points\":{}"), "{stored}");
        assert!(
            !stored.contains("dev-1"),
            "nothing of the session is left: {stored}"
        );
        let path = app.project_path(&format!("/sessions/{uuid}?deleted=true"));
        assert_eq!(app.get_json(&path).await.0, 404, "a tombstone is not shown");
        let photo = app.project_path(&format!("/sessions/{uuid}/attachments/photo?deleted=true"));
        assert_eq!(app.get_json(&photo).await.0, 404);
    }
    let (status, list) = app
        .get_json(&app.project_path("/sessions?deleted=true"))
        .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["keep"]);
    let export = app
        .get_text(&app.project_path("/sessions/export?deleted=true"))
        .await;
    assert!(
        export.contains("\"keep\"") && !export.contains("gone-"),
        "{export}"
    );
    let kept = app.stored_now("keep").await.unwrap();
    assert_eq!(kept.attachments.len(), 1, "a live session keeps everything");

    let again = run(&app, &options(&app, Some(Selection::Deleted(None)), false));
    assert_eq!(
        again.sessions, 0,
        "tombstones are not purged twice: {again}"
    );
}

/// Writes archived messages and replays them straight to the broker, as `intake replay
/// broker` does.
async fn replay_messages(app: &TestApp, uploads: &[&Upload]) {
    let dir: PathBuf = std::env::temp_dir().join(format!("purge-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, upload) in uploads.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:03}.msgpack")), upload.encode()).unwrap();
    }
    let report = replay::replay_broker(BrokerReplayOptions {
        path: dir.clone(),
        broker: app.config.broker.clone(),
        limits: app.config.limits,
        rate: None,
        window: 16,
        dry_run: false,
        progress: false,
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report.accepted, uploads.len() as u64, "{report}");
}

#[tokio::test]
async fn uploads_older_than_the_purge_leave_it_purged_and_a_newer_create_brings_it_back() {
    let mut app = TestApp::front_only().await;
    app.start_consumer();
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let created = clock.at(
        10,
        create(
            "old",
            "u1",
            json!({"a": {"Text": "a1"}, "photo": {"File": file(b"img")}}),
        ),
    );
    let updated = clock.at(20, update("old", json!({"b": {"Text": "b2"}})));
    let deleted = clock.at(
        30,
        intake::session::write::Write::Delete {
            uuid: common::ops::uuid("old"),
        },
    );
    publish(&app, &[&created, &updated, &deleted]).await;
    read_when(&app, "old", |s| s["is_deleted"] == true).await;
    let done = run(&app, &options(&app, Some(Selection::Deleted(None)), false));
    assert_eq!((done.sessions, done.attachments), (1, 1), "{done}");
    let tombstone = row(&app, "old").unwrap();

    // Every upload the session saw, and one accepted before the delete that no consumer
    // had seen yet: all older than the purge.
    let late = clock.at(25, update("old", json!({"c": {"File": file(b"late")}})));
    replay_messages(&app, &[&created, &updated, &late, &deleted]).await;
    settle(&mut app, &clock).await;
    assert_eq!(
        row(&app, "old").unwrap(),
        tombstone,
        "older uploads change nothing"
    );
    assert_eq!(attachments_of(&app, "old"), 0);
    let path = app.project_path("/sessions/old?deleted=true");
    assert_eq!(app.get_json(&path).await.0, 404);

    // A create accepted after the purge makes the session again, with only its own data.
    let again = clock.at(40, create("old", "u2", json!({"d": {"Text": "d4"}})));
    publish(&app, &[&again]).await;
    let session = read_when(&app, "old", |s| s["unit_id"] == "u2").await;
    assert_eq!(session["data"], json!({"d": "d4"}));
    assert_eq!(session["is_deleted"], false);
    assert_eq!(tombstones(&app), 0);
}

#[tokio::test]
async fn a_newer_update_waits_in_the_tombstone_for_its_create() {
    let mut app = TestApp::front_only().await;
    app.start_consumer();
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let created = clock.at(10, create("twice", "u1", json!({"a": {"Text": "a1"}})));
    let deleted = clock.at(
        20,
        intake::session::write::Write::Delete {
            uuid: common::ops::uuid("twice"),
        },
    );
    publish(&app, &[&created, &deleted]).await;
    read_when(&app, "twice", |s| s["is_deleted"] == true).await;
    run(&app, &options(&app, Some(Selection::Deleted(None)), false));

    // Accepted after the purge in this order, consumed the other way round: the update goes
    // through the merge into the tombstone and stays invisible until its create lands.
    let recreated = clock.at(40, create("twice", "u2", json!({"b": {"Text": "b4"}})));
    let updated = clock.at(50, update("twice", json!({"c": {"Text": "c5"}})));
    publish(&app, &[&updated]).await;
    settle(&mut app, &clock).await;
    let path = app.project_path("/sessions/twice?deleted=true");
    assert_eq!(app.get_json(&path).await.0, 404, "no create yet");
    publish(&app, &[&recreated]).await;
    let session = read_when(&app, "twice", |_| true).await;
    assert_eq!(session["data"], json!({"b": "b4", "c": "c5"}));
    assert_eq!(tombstones(&app), 0);
}

#[tokio::test]
async fn dropping_tombstones_lets_an_older_upload_bring_the_session_back() {
    let mut app = TestApp::front_only().await;
    app.start_consumer();
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let created = clock.at(10, create("back", "u1", json!({"a": {"Text": "a1"}})));
    publish(&app, &[&created]).await;
    read_when(&app, "back", |_| true).await;
    let before = chrono::Utc::now() + chrono::Duration::seconds(1);
    let done = run(
        &app,
        &options(&app, Some(Selection::ReceivedBefore(before)), false),
    );
    assert_eq!(done.sessions, 1, "{done}");

    let mut drop = options(&app, None, true);
    drop.tombstones_before = Some(chrono::Utc::now() + chrono::Duration::seconds(1));
    assert_eq!(run(&app, &drop).tombstones, 1);
    drop.dry_run = false;
    assert_eq!(run(&app, &drop).tombstones, 1);
    assert_eq!(row(&app, "back"), None);

    replay_messages(&app, &[&created]).await;
    let session = read_when(&app, "back", |_| true).await;
    assert_eq!(
        session["data"],
        json!({"a": "a1"}),
        "no tombstone, nothing to stop it"
    );
}
