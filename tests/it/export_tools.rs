//! `intake export` writes the bytes the export route streams, to stdout or to a file that
//! appears only when complete; `intake replay http --project` reads an export back into
//! another project, where every session compares equal field by field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::export::upload_with_file;

use std::time::Duration;

use common::cli::{Cli, text};
use common::{StoredSession, TestApp, eventually, load_session};
use reqwest::Method;
use serde_json::json;

/// Three kinds of session: with a file, rawData and text; JSON text with a time zone; and
/// a soft-deleted one.
async fn fill(app: &TestApp) -> Vec<&'static str> {
    upload_with_file(app, "with-file").await;
    app.create_stored(&json!({"session": {"uuid": "texts", "unit_id": "tablet",
        "created": 1_700_000_000, "saved": 1_700_000_100,
        "data": {"count": 3, "ok": true, "empty": null, "__timezone__": "120",
                 "blob": {"rawData": "AAEC/w=="}, "lines": "a\nb,\"c\""}}}))
        .await;
    app.create_stored(&json!({"session": {"uuid": "gone", "unit_id": "tablet",
        "data": {"note": "deleted later"}}}))
        .await;
    let path = app.project_path("/sessions/gone");
    let (status, body) = app.send_json(Method::DELETE, &path, None).await;
    assert_eq!(status, 202, "{body}");
    app.read_until("gone", |session| session["is_deleted"] == true)
        .await;
    vec!["with-file", "texts", "gone"]
}

async fn route_bytes(app: &TestApp, query: &str) -> Vec<u8> {
    let path = app.project_path(&format!("/sessions/export{query}"));
    let response = app.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn the_command_writes_the_bytes_of_the_route() {
    let app = TestApp::spawn().await;
    fill(&app).await;
    let cli = Cli::for_app(&app);
    let project = app.project_id.to_string();
    let file = cli.dir.join("export.out");
    let file_arg = file.to_str().unwrap();
    for (query, args) in [
        ("", vec![]),
        ("?format=csv", vec!["--format", "csv"]),
        (
            "?format=csv&deleted=true",
            vec!["--format", "csv", "--deleted"],
        ),
        (
            "?deleted=true&unit_id=tablet",
            vec!["--deleted", "--unit-id", "tablet"],
        ),
        ("?since=2000000000", vec!["--since", "2000000000"]),
    ] {
        let mut all = vec!["export", "--project", project.as_str(), "-o", file_arg];
        all.extend(args);
        let output = cli.run(&all).await;
        let (_, stderr) = text(&output);
        assert!(output.status.success(), "{query}: {stderr}");
        assert!(stderr.contains("exported "), "a summary: {stderr}");
        let written = std::fs::read(&file).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&route_bytes(&app, query).await),
            "{query}"
        );
    }
    let to_stdout = cli
        .run(&["export", "--project", project.as_str(), "--quiet"])
        .await;
    assert!(to_stdout.status.success());
    assert_eq!(to_stdout.stdout, route_bytes(&app, "").await);
    let names: Vec<String> = std::fs::read_dir(&cli.dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains("partial")),
        "no temporary file left: {names:?}"
    );
}

#[tokio::test]
async fn a_failed_export_exits_1_and_leaves_no_file() {
    let app = TestApp::spawn().await;
    let cli = Cli::for_app(&app);
    let file = cli.dir.join("never.ndjson");
    let file_arg = file.to_str().unwrap();
    let missing = cli
        .run(&["export", "--project", "987654", "-o", file_arg])
        .await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing).1.contains("no project with id 987654"));
    assert!(!file.exists());
    for bad in [
        vec!["--format", "xml"],
        vec!["--since", "yesterday"],
        vec!["--unit-id", ""],
    ] {
        let project = app.project_id.to_string();
        let mut all = vec!["export", "--project", project.as_str(), "-o", file_arg];
        all.extend(bad.iter().copied());
        let output = cli.run(&all).await;
        assert!(!output.status.success(), "{bad:?}");
        assert!(
            text(&output).1.contains(bad[0]),
            "{bad:?}: names the option"
        );
        assert!(!file.exists());
    }
    // The database goes away: the export fails instead of writing a short file.
    let broken = Cli::with_config(
        &common::cli::app_config(&app).replace(&app.db.name, "intake_no_such_database_for_export"),
    );
    let project = app.project_id.to_string();
    let output = broken
        .run(&["export", "--project", project.as_str(), "-o", file_arg])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output).1);
    assert!(!file.exists());
}

/// What must survive a round trip: all but the stamps and who sent it.
fn content(session: &StoredSession) -> StoredSession {
    StoredSession {
        received_from: String::new(),
        upload_id: uuid::Uuid::nil(),
        ..session.clone()
    }
}

#[tokio::test]
async fn an_export_replayed_into_an_empty_project_stores_equal_sessions() {
    let app = TestApp::spawn().await;
    let uuids = fill(&app).await;
    let target = app.add_project("replayed", true).await;
    let cli = Cli::for_app(&app);
    let file = cli.dir.join("a.ndjson");
    let file_arg = file.to_str().unwrap();
    let project = app.project_id.to_string();
    let exported = cli
        .run(&[
            "export",
            "--project",
            project.as_str(),
            "--deleted",
            "-o",
            file_arg,
        ])
        .await;
    assert!(exported.status.success(), "{}", text(&exported).1);

    let target_arg = target.to_string();
    let replayed = cli
        .run(&[
            "replay",
            "http",
            file_arg,
            "--project",
            target_arg.as_str(),
            "-u",
            app.username.as_str(),
            "-s",
            app.secret.as_str(),
        ])
        .await;
    let (stdout, stderr) = text(&replayed);
    assert!(replayed.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("accepted:  3"), "{stdout}");

    for uuid in uuids {
        let original = load_session(&app.db.url, app.project_id, uuid).unwrap();
        assert!(!original.attachments.is_empty() || uuid != "with-file");
        let url = app.db.url.clone();
        let want = content(&original);
        eventually(
            "the replayed session equal to the original",
            Duration::from_secs(30),
            || {
                let (url, want) = (url.clone(), want.clone());
                async move {
                    let copy = load_session(&url, target, uuid)?;
                    (content(&copy) == want).then_some(())
                }
            },
        )
        .await;
    }
    // The target project holds those sessions and no others.
    let (_, list) = app
        .get_json(&format!("/api/v1/projects/{target}/sessions?deleted=true"))
        .await;
    assert_eq!(list["result"].as_array().unwrap().len(), 3, "{list}");
}

#[tokio::test]
async fn an_export_line_without_a_project_is_refused() {
    let app = TestApp::spawn().await;
    upload_with_file(&app, "with-file").await;
    let cli = Cli::for_app(&app);
    let file = cli.dir.join("a.ndjson");
    std::fs::write(&file, route_bytes(&app, "").await).unwrap();
    let output = cli
        .run(&[
            "replay",
            "http",
            file.to_str().unwrap(),
            "--dry-run",
            "-u",
            "x",
            "-s",
            "y",
        ])
        .await;
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("needs --project"), "{stdout}");
    let project = app.project_id.to_string();
    let checked = cli
        .run(&[
            "replay",
            "http",
            file.to_str().unwrap(),
            "--dry-run",
            "--project",
            project.as_str(),
            "-u",
            "x",
            "-s",
            "y",
        ])
        .await;
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("valid:     1"), "{stdout}");
}
