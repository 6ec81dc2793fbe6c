//! The accounts' lifecycle through the `intake` binary, checked where it matters: what the
//! front then accepts or refuses, and one-line messages instead of database errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::TestApp;
use common::cli::{Cli, text};
use serde_json::json;

/// The status the front answers a signed upload with, as `username`/`secret`.
async fn upload_status(app: &TestApp, username: &str, secret: &str) -> u16 {
    let request = intake_tools::sign(app.http.post(app.sessions_url()), username, secret)
        .json(&json!({"session": {"unit_id": "u"}}));
    request.send().await.unwrap().status().as_u16()
}

/// Waits until the front (after its next auth reload) answers `status`.
async fn until_status(app: &TestApp, username: &str, secret: &str, status: u16) {
    common::eventually(
        &format!("{username} gets {status}"),
        Duration::from_secs(20),
        || async { (upload_status(app, username, secret).await == status).then_some(()) },
    )
    .await;
}

fn secret_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("secret: "))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn duplicates_and_unknown_names_get_one_line_messages() {
    let app = TestApp::front_only().await;
    let cli = Cli::for_app(&app);
    let output = cli.run(&["project", "create", "field-survey"]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!(
            "error: a project called \"field-survey\" already exists (id {})",
            app.project_id
        )
    );
    let output = cli.run(&["user", "create", &app.username]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("error: a user called \"{}\" already exists", app.username)
    );
    for args in [
        &["user", "grant", "nobody", "1"][..],
        &["user", "revoke", "nobody"][..],
        &["user", "grant", &app.username, "999999"][..],
        &["grant", "revoke", &app.username, "999999"][..],
    ] {
        let output = cli.run(args).await;
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("constraint"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn projects_users_and_grants_are_listed_and_grants_revoked() {
    let app = TestApp::front_only().await;
    let cli = Cli::for_app(&app);
    let output = cli.run(&["project", "create", "second"]).await;
    assert!(output.status.success(), "{:?}", text(&output));
    let second: i64 = text(&output).0.trim().parse().unwrap();

    let (stdout, _) = text(&cli.run(&["project", "list"]).await);
    assert!(
        stdout.contains("field-survey") && stdout.contains("second"),
        "{stdout}"
    );

    let output = cli
        .run(&["user", "grant", &app.username, &second.to_string()])
        .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("within 5 s"), "{stdout}");

    let (stdout, _) = text(&cli.run(&["user", "list"]).await);
    let line = stdout
        .lines()
        .find(|line| line.starts_with(&app.username))
        .unwrap();
    assert!(line.contains("active"), "{line}");
    assert!(
        line.ends_with(&format!("{},{second}", app.project_id)),
        "{line}"
    );
    assert!(
        !stdout.contains(&app.secret),
        "secrets are never listed: {stdout}"
    );

    let (stdout, _) = text(
        &cli.run(&["grant", "list", "--project", &second.to_string()])
            .await,
    );
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains(&app.username) && stdout.contains("second"),
        "{stdout}"
    );

    let project = app.project_id.to_string();
    let output = cli.run(&["grant", "revoke", &app.username, &project]).await;
    assert!(output.status.success(), "{:?}", text(&output));
    until_status(&app, &app.username, &app.secret, 403).await;
    let output = cli.run(&["grant", "revoke", &app.username, &project]).await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
}

#[tokio::test]
async fn a_rotated_secret_keeps_the_old_one_for_the_grace_period_and_revoke_ends_both() {
    let app = TestApp::front_only().await;
    let cli = Cli::for_app(&app);
    let old = app.secret.clone();
    let output = cli.run(&["user", "rotate-secret", &app.username]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let new = secret_of(&stdout);
    assert_ne!(new, old);
    assert!(stderr.contains("old secret works until"), "{stderr}");
    until_status(&app, &app.username, &new, 202).await;
    assert_eq!(upload_status(&app, &app.username, &old).await, 202);

    // Without a grace period the old secret stops at the next reload.
    let output = cli
        .run(&["user", "rotate-secret", &app.username, "--grace", "0"])
        .await;
    let newest = secret_of(&text(&output).0);
    until_status(&app, &app.username, &newest, 202).await;
    assert_eq!(upload_status(&app, &app.username, &new).await, 403);

    let output = cli.run(&["user", "revoke", &app.username]).await;
    assert!(output.status.success(), "{:?}", text(&output));
    until_status(&app, &app.username, &newest, 403).await;
    let (stdout, _) = text(&cli.run(&["user", "list"]).await);
    assert!(stdout.contains("revoked"), "{stdout}");
    let output = cli.run(&["user", "revoke", &app.username]).await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let output = cli.run(&["user", "rotate-secret", &app.username]).await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
}
