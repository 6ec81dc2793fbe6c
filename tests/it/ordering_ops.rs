//! Acceptance order across every kind of write: messages published straight to the queue,
//! out of order and more than once, consumed by competing consumers, end as if applied one
//! by one in acceptance order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::ops::{Clock, create, file, placeholders, publish, read_when, settle, update, uuid};
use common::{TestApp, eventually};
use intake::session::PointName;
use intake::session::write::Write;
use serde_json::json;

#[tokio::test]
async fn an_update_consumed_before_its_create_is_not_lost() {
    let mut app = TestApp::front_only().await;
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let created = clock.at(
        1,
        create(
            "early",
            "u1",
            json!({"a": {"Text": "a1"}, "b": {"Text": "b1"}}),
        ),
    );
    let updated = clock.at(
        2,
        update("early", json!({"b": {"Text": "b2"}, "c": {"Raw": [7]}})),
    );
    publish(&app, &[&updated, &updated]).await;
    app.start_consumer();
    eventually("placeholder", Duration::from_secs(30), || async {
        (placeholders(&app, "early") == 1).then_some(())
    })
    .await;
    let path = app.project_path("/sessions/early?deleted=true");
    assert_eq!(
        app.get_json(&path).await.0,
        404,
        "a placeholder is invisible"
    );
    assert_eq!(common::count(&app.db.url, "devices"), 0);

    publish(&app, &[&created]).await;
    let session = read_when(&app, "early", |_| true).await;
    assert_eq!(
        session["data"],
        json!({"a": "a1", "b": "b2", "c": {"rawData": "Bw=="}})
    );
    assert_eq!(
        (
            session["unit_id"].as_str(),
            session["saved_timestamp"].as_i64()
        ),
        (Some("u1"), Some(300))
    );
    assert_eq!(placeholders(&app, "early"), 0);
}

#[tokio::test]
async fn a_create_after_a_delete_brings_the_session_back_whole() {
    let mut app = TestApp::front_only().await;
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let first = clock.at(
        1,
        create(
            "again",
            "u1",
            json!({"old": {"Text": "x"}, "photo": {"File": file(b"old")}}),
        ),
    );
    let deleted = clock.at(
        2,
        Write::Delete {
            uuid: uuid("again"),
        },
    );
    let photo = PointName::parse("photo").unwrap();
    let dropped = clock.at(
        3,
        Write::DeleteAttachment {
            uuid: uuid("again"),
            point: photo,
        },
    );
    let second = clock.at(4, create("again", "u2", json!({"new": {"Text": "y"}})));
    // Newest first, everything twice.
    publish(
        &app,
        &[
            &second, &dropped, &deleted, &first, &second, &deleted, &first,
        ],
    )
    .await;
    app.start_consumer_with(|c| c.consumer.batch_size = 2);
    app.start_consumer_with(|c| c.consumer.batch_size = 3);
    let session = read_when(&app, "again", |s| s["unit_id"] == "u2").await;
    settle(&mut app, &clock).await;
    let session_after = read_when(&app, "again", |_| true).await;
    assert_eq!(
        session, session_after,
        "nothing older changes it afterwards"
    );
    assert_eq!(session["is_deleted"], false);
    assert_eq!(session["data"], json!({"new": "y"}));
    assert_eq!(common::count(&app.db.url, "attachments"), 0);
}

#[tokio::test]
async fn a_removed_attachment_stays_removed_when_an_older_put_arrives_later() {
    let mut app = TestApp::front_only().await;
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let point = || PointName::parse("photo").unwrap();
    let created = clock.at(
        1,
        create("tomb", "u", json!({"photo": {"File": file(b"v1")}})),
    );
    let put = clock.at(
        2,
        Write::PutAttachment {
            uuid: uuid("tomb"),
            point: point(),
            file: file(b"v2"),
        },
    );
    let removed = clock.at(
        3,
        Write::DeleteAttachment {
            uuid: uuid("tomb"),
            point: point(),
        },
    );
    publish(&app, &[&created, &removed]).await;
    app.start_consumer();
    read_when(&app, "tomb", |s| s["data"] == json!({})).await;
    publish(&app, &[&put, &put]).await;
    settle(&mut app, &clock).await;
    let session = read_when(&app, "tomb", |_| true).await;
    assert_eq!(
        session["data"],
        json!({}),
        "the older put must not resurrect it"
    );
    assert_eq!(common::count(&app.db.url, "attachments"), 0);
}
