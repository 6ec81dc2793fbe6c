//! `intake replay`: a message archive published straight to the broker keeps its original
//! stamps, so a second replay changes nothing; an NDJSON archive posted through the front is
//! stored again with the same content under new stamps; dry runs send nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{TestApp, eventually};
use diesel::prelude::*;
use intake::ordering::Stamp;
use intake::session::Session;
use intake::session::write::Write;
use intake::wire::Upload;
use intake_tools::replay::{self, BrokerReplayOptions, HttpReplayOptions, ReplayReport};
use serde_json::json;

/// A directory of the test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("intake-tools-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn upload(project_id: i64, uuid: &str, version: u8) -> Upload {
    let session: Session = serde_json::from_value(json!({
        "uuid": uuid,
        "unit_id": format!("unit-{version}"),
        "created": 1_700_000_000,
        "saved": 1_700_000_000 + i64::from(version),
        "points": {
            format!("only-in-v{version}"): {"Text": "x"},
            "blob": {"Raw": [version, 0, 255]},
        },
    }))
    .unwrap();
    Upload::create(project_id, Stamp::now("archived-device"), session)
}

fn broker_options(app: &TestApp, path: &Path, dry_run: bool) -> BrokerReplayOptions {
    BrokerReplayOptions {
        path: path.to_owned(),
        broker: app.config.broker.clone(),
        limits: app.config.limits,
        rate: None,
        window: 16,
        dry_run,
        progress: false,
    }
}

/// Every row of the tables a replay could touch, as text, in a stable order.
fn snapshot(url: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    let queries = [
        "SELECT row_to_json(s)::text AS line FROM sessions s ORDER BY project_id, uuid",
        "SELECT row_to_json(a)::text AS line FROM attachments a ORDER BY session_id, point",
        "SELECT row_to_json(d)::text AS line FROM devices d ORDER BY project_id, unit_id",
    ];
    queries
        .iter()
        .flat_map(|query| {
            diesel::sql_query(*query)
                .load::<Line>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|row| row.line)
        })
        .filter(|line| !line.contains("\"sentinel"))
        .collect()
}

async fn replay_archive(app: &TestApp, dir: &Path) -> ReplayReport {
    replay::replay_broker(broker_options(app, dir, false))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_archive_replayed_twice_leaves_the_database_unchanged() {
    let mut app = TestApp::front_only().await;
    // One worker takes messages in queue order, so once the last one is stored every earlier
    // one has been decided.
    app.start_consumer_with(|config| config.consumer.workers = 1);
    let archive = TempDir::new();
    let mut newest = Vec::new();
    let mut files = 0;
    for i in 0..6 {
        let uuid = format!("archived-{i}");
        let old = upload(app.project_id, &uuid, 1);
        let new = upload(app.project_id, &uuid, 2);
        // The newer version sorts first by file name, so it is replayed before the older.
        for (name, version) in [(format!("{i}-a"), &new), (format!("{i}-b"), &old)] {
            std::fs::write(archive.0.join(format!("{name}.msgpack")), version.encode()).unwrap();
            files += 1;
        }
        newest.push(new);
    }
    std::fs::write(archive.0.join("notes.txt"), "not a message").unwrap();

    let first = replay_archive(&app, &archive.0).await;
    assert_eq!(
        (first.read, first.sent, first.accepted),
        (files, files, files),
        "{first}"
    );
    assert_eq!(first.failed_total(), 0, "{first}");
    drain(&app, "sentinel-1").await;
    for new in &newest {
        let stored = app.stored_now(new.uuid().as_str()).await.unwrap();
        assert_eq!(stored.upload_id, new.stamp.upload_id);
        assert_eq!(stored.unit_id, "unit-2");
        assert_eq!(stored.received_from, "archived-device");
    }
    let before = snapshot(&app.db.url);
    assert_eq!(before.len(), 6 + 6 + 2, "sessions, blobs, two devices");

    let second = replay_archive(&app, &archive.0).await;
    assert_eq!(second.accepted, files, "{second}");
    drain(&app, "sentinel-2").await;
    assert_eq!(snapshot(&app.db.url), before);
}

/// Publishes a sentinel upload after everything else and waits until it is stored: with one
/// consumer worker taking messages in queue order, everything published before it has then
/// been decided. Sentinels have no binaries and a unit of their own, so [`snapshot`] can
/// leave them out.
async fn drain(app: &TestApp, uuid: &str) {
    let dir = TempDir::new();
    let session: Session = serde_json::from_value(json!({
        "uuid": uuid, "unit_id": "sentinel-unit", "created": 0, "saved": 0, "points": {}
    }))
    .unwrap();
    let sentinel = Upload::create(app.project_id, Stamp::now("test"), session);
    std::fs::write(dir.0.join("s.msgpack"), sentinel.encode()).unwrap();
    assert_eq!(replay_archive(app, &dir.0).await.accepted, 1);
    app.stored(uuid).await;
}

#[tokio::test]
async fn a_dry_run_checks_every_message_and_publishes_nothing() {
    let app = TestApp::front_only().await;
    let archive = TempDir::new();
    let good = upload(app.project_id, "fine", 1);
    std::fs::write(archive.0.join("1.msgpack"), good.encode()).unwrap();
    std::fs::write(archive.0.join("2.msgpack"), b"garbage").unwrap();
    let mut invalid = upload(app.project_id, "bad", 1);
    let Write::Create(session) = &mut invalid.operation else {
        unreachable!("a create")
    };
    session.unit_id = serde_json::from_value(json!("")).unwrap();
    std::fs::write(archive.0.join("3.msgpack"), invalid.encode()).unwrap();

    let report = replay::replay_broker(broker_options(&app, &archive.0, true))
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(
        (report.read, report.valid, report.sent),
        (3, 1, 0),
        "{report}"
    );
    assert_eq!(report.failed.get("undecodable"), Some(&1), "{report}");
    assert_eq!(report.failed.get("invalid session"), Some(&1), "{report}");
    assert_eq!(report.examples.len(), 2);

    // A single file is an archive too.
    let single = replay::replay_broker(broker_options(&app, &archive.0.join("1.msgpack"), true))
        .await
        .unwrap();
    assert_eq!((single.read, single.valid), (1, 1));
}

fn http_options(app: &TestApp, file: &Path, dry_run: bool) -> HttpReplayOptions {
    HttpReplayOptions {
        file: file.to_owned(),
        project: None,
        url: app.url(""),
        username: app.username.clone(),
        secret: app.secret.clone(),
        concurrency: 4,
        rate: None,
        dry_run,
        limits: app.config.limits,
        request_timeout: Duration::from_secs(20),
        progress: false,
    }
}

#[tokio::test]
async fn an_ndjson_archive_is_stored_through_the_front_with_the_same_content() {
    let app = TestApp::spawn().await;
    let dir = TempDir::new();
    let file = dir.0.join("sessions.ndjson");
    let line = |uuid: &str| {
        json!({"project_id": app.project_id, "session": {
            "uuid": uuid, "unit_id": "tablet-9", "created": 1_600_000_000, "saved": 1_600_000_100,
            "data": {"Name": "Ada", "count": 3, "sketch": {"rawData": "AAEC"}}
        }})
        .to_string()
    };
    let lines = [
        line("nd-1"),
        line("nd-2"),
        String::new(),
        "{not json".into(),
        json!({"project_id": 999_999, "session": {"uuid": "elsewhere", "unit_id": "u"}})
            .to_string(),
        line("nd-3"),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();

    let report = replay::replay_http(http_options(&app, &file, false))
        .await
        .unwrap();
    assert_eq!(
        (report.read, report.sent, report.accepted),
        (5, 4, 3),
        "{report}"
    );
    assert_eq!(report.failed.get("invalid line"), Some(&1), "{report}");
    assert_eq!(report.failed.get("HTTP 404"), Some(&1), "{report}");

    let mut first = Vec::new();
    for uuid in ["nd-1", "nd-2", "nd-3"] {
        let stored = app.stored(uuid).await;
        assert_eq!(stored.unit_id, "tablet-9");
        assert_eq!(
            (stored.created, stored.saved),
            (1_600_000_000, 1_600_000_100)
        );
        assert_eq!(stored.points, json!({"name": "Ada", "count": "3"}));
        assert_eq!(stored.attachments.len(), 1);
        assert_eq!(stored.attachments[0].4, vec![0, 1, 2]);
        first.push(stored);
    }

    // Replayed again: new stamps, same content.
    let again = replay::replay_http(http_options(&app, &file, false))
        .await
        .unwrap();
    assert_eq!(again.accepted, 3, "{again}");
    for (uuid, before) in ["nd-1", "nd-2", "nd-3"].into_iter().zip(first) {
        let after = eventually("the replayed upload", Duration::from_secs(20), || async {
            let now = app.stored_now(uuid).await?;
            (now.upload_id != before.upload_id).then_some(now)
        })
        .await;
        assert!(after.upload_id > before.upload_id);
        let strip =
            |s: common::StoredSession| (s.unit_id, s.created, s.saved, s.points, s.attachments);
        assert_eq!(strip(after), strip(before));
    }
}

#[tokio::test]
async fn an_ndjson_dry_run_applies_the_session_rules_and_sends_nothing() {
    let app = TestApp::front_only().await;
    let dir = TempDir::new();
    let file = dir.0.join("sessions.ndjson");
    let lines = [
        json!({"project_id": app.project_id, "session": {"uuid": "ok", "unit_id": "u"}}),
        json!({"project_id": app.project_id, "session": {"uuid": "no-unit"}}),
        json!({"project_id": app.project_id, "session": {"unit_id": "u", "data": {"x": [1]}}}),
        json!({"project_id": 0, "session": {"unit_id": "u"}}),
    ]
    .map(|value| value.to_string());
    std::fs::write(&file, lines.join("\n")).unwrap();
    let report = replay::replay_http(http_options(&app, &file, true))
        .await
        .unwrap();
    assert_eq!(
        (report.read, report.valid, report.sent),
        (4, 1, 0),
        "{report}"
    );
    assert_eq!(report.failed.get("invalid session"), Some(&2), "{report}");
    assert_eq!(report.failed.get("invalid line"), Some(&1), "{report}");
    assert!(
        report
            .examples
            .iter()
            .any(|e| e.contains("session[unit_id]")),
        "{report}"
    );
    assert_eq!(common::count(&app.db.url, "sessions"), 0);
}
