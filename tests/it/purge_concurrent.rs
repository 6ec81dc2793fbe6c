//! `intake purge` beside the pipeline: devices keep posting new sessions through the front
//! while a purge removes old deleted ones in small batches; every accepted upload is stored,
//! every old one is purged. And the command line: the refusal without `--yes`, the dry run,
//! retention from the configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::cli::{Cli, app_config, text};
use common::{TestApp, count, eventually};
use intake::store::purge::Selection;
use intake_tools::purge::PurgeOptions;
use serde_json::json;

const OLD: i64 = 3000;

/// Soft-deleted sessions received yesterday, each with an attachment, written straight to
/// the table: what a purge finds after months of use.
fn seed_old_deleted(app: &TestApp) {
    app.execute(&format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                               upload_id, is_deleted, points)
         SELECT {}, 'old-' || g, 'old-unit', now(), now(), now() - interval '1 day', 'seed',
                gen_random_uuid(), true, '{{\"a\": \"x\"}}'
         FROM generate_series(1, {OLD}) AS g",
        app.project_id
    ));
    app.execute(
        "INSERT INTO attachments (project_id, session_id, point, embedded, content_type, size,
                                  md5, sha256, bytes)
         SELECT project_id, id, 'photo', false, 'image/jpeg', 3, '\\x00', '\\x00', '\\x010203'
         FROM sessions WHERE uuid LIKE 'old-%'",
    );
}

#[tokio::test]
async fn a_purge_while_uploads_land_loses_none_of_them() {
    let app = Arc::new(TestApp::spawn().await);
    seed_old_deleted(&app);
    let purging = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (app, purging) = (Arc::clone(&app), Arc::clone(&purging));
        writers.push(tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut n = 0;
            // At least a few uploads each, and then as long as the purge runs.
            while n < 20 || purging.load(Ordering::Relaxed) {
                let uuid = format!("new-{writer}-{n}");
                let body = json!({"session": {"uuid": uuid, "unit_id": "new-unit",
                    "data": {"n": n, "photo": {"rawData": "AQID"}}}});
                let (status, answer) = app.post_json(&body).await;
                assert_eq!(status, 202, "{answer}");
                accepted.push(uuid);
                n += 1;
            }
            accepted
        }));
    }
    let purger = {
        let app = Arc::clone(&app);
        tokio::task::spawn_blocking(move || {
            let options = PurgeOptions {
                project_id: app.project_id,
                selection: Some(Selection::Deleted(None)),
                tombstones_before: None,
                dry_run: false,
                batch_size: 100,
                progress: false,
            };
            intake_tools::purge::purge(&mut app.db.conn(), &options).unwrap()
        })
    };
    let report = purger.await.unwrap();
    purging.store(false, Ordering::Relaxed);
    let mut accepted = Vec::new();
    for writer in writers {
        accepted.extend(writer.await.unwrap());
    }

    assert_eq!((report.sessions, report.busy), (OLD, 0), "{report}");
    assert!(report.batches >= 30, "{report}");
    assert_eq!(
        count(
            &app.db.url,
            "sessions WHERE uuid LIKE 'old-%' AND purged_at IS NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &app.db.url,
            "attachments a JOIN sessions s ON s.id = a.session_id WHERE s.uuid LIKE 'old-%'"
        ),
        0
    );
    let expected = i64::try_from(accepted.len()).unwrap();
    let stored = "sessions WHERE uuid LIKE 'new-%' AND purged_at IS NULL AND NOT is_deleted";
    eventually(
        "every accepted upload stored",
        Duration::from_secs(60),
        || async { (count(&app.db.url, stored) == expected).then_some(()) },
    )
    .await;
    for uuid in &accepted {
        let session = app.stored_now(uuid).await.unwrap();
        assert_eq!(session.attachments.len(), 1, "{uuid}");
    }
}

#[tokio::test]
async fn the_command_refuses_without_yes_counts_with_dry_run_and_applies_retention() {
    let app = TestApp::spawn().await;
    seed_old_deleted(&app);
    let project = app.project_id.to_string();
    let cli = Cli::for_app(&app);

    let refused = cli
        .run(&["purge", "--project", &project, "--deleted"])
        .await;
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("--yes") && stderr.contains("--dry-run"),
        "{stderr}"
    );

    let dry = cli
        .run(&["purge", "--project", &project, "--deleted", "--dry-run"])
        .await;
    let (stdout, stderr) = text(&dry);
    assert!(dry.status.success(), "{stderr}");
    assert!(
        stdout.contains(&format!("would purge {OLD} sessions ({OLD} attachments")),
        "{stdout}"
    );
    assert_eq!(
        count(&app.db.url, "sessions WHERE purged_at IS NOT NULL"),
        0
    );

    let off = cli.run(&["purge", "--retention", "--yes"]).await;
    let (_, stderr) = text(&off);
    assert!(!off.status.success());
    assert!(stderr.contains("retention.deleted_days"), "{stderr}");

    // Deleted a day ago: kept by a two-day retention, purged by a zero-day one.
    for (days, purged) in [(2, 0), (0, OLD)] {
        let config = format!("{}\n[retention]\ndeleted_days = {days}\n", app_config(&app));
        let cron = Cli::with_config(&config);
        let run = cron
            .run(&["purge", "--retention", "--yes", "--quiet"])
            .await;
        let (stdout, stderr) = text(&run);
        assert!(run.status.success(), "{stderr}");
        assert!(
            stdout.contains(&format!("purged {purged} sessions")),
            "{stdout}"
        );
    }
    assert_eq!(
        count(&app.db.url, "sessions WHERE purged_at IS NOT NULL"),
        OLD
    );
    assert_eq!(count(&app.db.url, "attachments"), 0);
}
