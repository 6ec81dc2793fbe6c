//! `intake dlq`: an upload for a project that does not exist yet is dead-lettered, collected
//! into `dead_letters`, listed and shown (and saved for replay); once the project exists,
//! `requeue` puts it back and it is stored with its original stamp; `purge` deletes the rest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{TestApp, eventually};
use diesel::prelude::*;
use intake::ordering::Stamp;
use intake::session::Session;
use intake::wire::Upload;
use intake_tools::ToolError;
use intake_tools::dlq::{self, DlqEntry, Filter};
use serde_json::json;

pub(crate) fn upload(project_id: i64, uuid: &str) -> Upload {
    let session: Session = serde_json::from_value(json!({
        "uuid": uuid,
        "unit_id": "late-unit",
        "created": 1_700_000_000,
        "saved": 1_700_000_001,
        "points": {"note": {"Text": "waiting"}, "photo": {"File": {
            "filename": "a.jpg", "content_type": "image/jpeg", "bytes": [1, 2, 3]
        }}},
    }))
    .unwrap();
    Upload::create(project_id, Stamp::now("device-fleet"), session)
}

async fn publish(app: &TestApp, uploads: &[&Upload]) {
    common::publish_uploads(app, uploads).await;
}

async fn list(app: &TestApp) -> Vec<DlqEntry> {
    let mut entries = dlq::list(&app.config, 100).await.unwrap();
    entries.sort_by_key(|entry| entry.project_id);
    entries
}

async fn dead_letters(app: &TestApp, count: usize) -> Vec<DlqEntry> {
    eventually("dead letters", Duration::from_secs(30), || async {
        let entries = list(app).await;
        (entries.len() == count).then_some(entries)
    })
    .await
}

pub(crate) fn create_project_with_id(app: &TestApp, id: i64) {
    let mut conn = app.db.conn();
    diesel::sql_query("INSERT INTO projects (id, name) VALUES ($1, 'arrived-late')")
        .bind::<diesel::sql_types::BigInt, _>(id)
        .execute(&mut conn)
        .unwrap();
}

#[tokio::test]
async fn dead_letters_are_listed_requeued_once_fixed_and_purged() {
    let app = TestApp::spawn().await;
    let late = app.project_id + 100;
    let never = app.project_id + 200;
    let waiting = upload(late, "waits-for-project");
    let orphan = upload(never, "orphan");
    publish(&app, &[&waiting, &orphan]).await;

    let entries = dead_letters(&app, 2).await;
    let entry = &entries[0];
    assert_eq!(entry.project_id, Some(late));
    assert_eq!(entry.upload_id, Some(waiting.stamp.upload_id.to_string()));
    assert_eq!(entry.uuid.as_deref(), Some("waits-for-project"));
    let reason = entry.reason.as_deref().unwrap();
    assert!(
        reason.contains(&format!("project {late} does not exist")),
        "{reason}"
    );
    assert!(
        entry.age_seconds.is_some_and(|age| (0..60).contains(&age)),
        "{entry:?}"
    );
    assert_eq!(entry.size_bytes, waiting.encode().len());
    assert!(entry.dead_lettered_at.is_some(), "{entry:?}");
    assert_eq!(entries[1].uuid.as_deref(), Some("orphan"));
    // Listing takes nothing (the ages move on with the clock between the two listings): the
    // dead letters now live in PostgreSQL.
    let ageless = |entries: &[DlqEntry]| -> Vec<DlqEntry> {
        let strip = |entry: &DlqEntry| DlqEntry {
            age_seconds: None,
            ..entry.clone()
        };
        entries.iter().map(strip).collect()
    };
    assert_eq!(ageless(&list(&app).await), ageless(&entries));
    assert_eq!(common::count(&app.db.url, "dead_letters"), 2);

    // Show, saving the raw body for replay.
    let save = std::env::temp_dir().join(format!("intake-dlq-{}", uuid::Uuid::new_v4()));
    let id = waiting.stamp.upload_id.to_string();
    let shown = dlq::show(&app.config, &id, Some(&save))
        .await
        .unwrap()
        .unwrap();
    let summary = shown.session.as_ref().unwrap();
    assert_eq!(
        (summary.uuid.as_str(), summary.project_id),
        ("waits-for-project", late)
    );
    assert_eq!(summary.points.len(), 2);
    assert!(shown.headers["x-intake-reason"].contains("does not exist"));
    assert_eq!(shown.headers["x-intake-project"], late.to_string());
    let saved = std::fs::read(save.join(format!("{id}.msgpack"))).unwrap();
    assert_eq!(saved, waiting.encode());
    std::fs::remove_dir_all(&save).unwrap();
    let missing = dlq::show(&app.config, "nope", None).await.unwrap();
    assert!(missing.is_none());
    assert_eq!(list(&app).await.len(), 2);

    // Nothing is taken without a filter; a dry run changes nothing.
    let refused = dlq::requeue(&app.config, &Filter::default(), false).await;
    assert!(matches!(refused, Err(ToolError::Options(_))));
    let by_project = Filter {
        project_id: Some(late),
        ..Filter::default()
    };
    let dry = dlq::requeue(&app.config, &by_project, true).await.unwrap();
    assert_eq!((dry.examined, dry.matched, dry.done), (2, 1, 0));
    assert_eq!(list(&app).await.len(), 2);

    // Once the project exists, requeue stores the upload with its original stamp.
    create_project_with_id(&app, late);
    let requeued = dlq::requeue(&app.config, &by_project, false).await.unwrap();
    assert_eq!((requeued.matched, requeued.done), (1, 1), "{requeued}");
    assert!(requeued.failures.is_empty());
    let stored = eventually("requeued upload stored", Duration::from_secs(30), || {
        let url = app.db.url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                common::load_session(&url, late, "waits-for-project")
            })
            .await
            .unwrap()
        }
    })
    .await;
    assert_eq!(stored.upload_id, waiting.stamp.upload_id);
    assert_eq!(stored.points, json!({"note": "waiting"}));
    assert_eq!(stored.attachments.len(), 1);
    let remaining = list(&app).await;
    assert_eq!(remaining.len(), 1, "{remaining:?}");
    assert_eq!(remaining[0].uuid.as_deref(), Some("orphan"));

    // Filters combine: a reason that does not match takes nothing.
    let mismatch = Filter {
        project_id: Some(never),
        reason_contains: Some("undecodable".into()),
        ..Filter::default()
    };
    let report = dlq::purge(&app.config, &mismatch, false).await.unwrap();
    assert_eq!((report.matched, report.done), (0, 0));

    let all = Filter {
        all: true,
        ..Filter::default()
    };
    let purged = dlq::purge(&app.config, &all, false).await.unwrap();
    assert_eq!((purged.examined, purged.done), (1, 1), "{purged}");
    assert!(list(&app).await.is_empty());
    assert_eq!(common::count(&app.db.url, "dead_letters"), 0);
}
