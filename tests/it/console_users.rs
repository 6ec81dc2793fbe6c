//! `intake console-user …` as an operator runs it: create from stdin (never an empty
//! password, never twice), list, delete (exit 1 when absent), and a created user logs in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::TestApp;
use crate::common::cli::{Cli, text};
use crate::console_harness::TestConsole;

#[tokio::test]
async fn console_users_are_created_listed_and_deleted_through_the_cli() {
    let console = TestConsole::around(TestApp::front_only().await).await;
    let cli = Cli::for_app(&console.app);

    let output = cli
        .run_with_stdin(
            &["console-user", "create", "alice", "--password-stdin"],
            b"s3cret pass\n",
        )
        .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("alice"), "{stdout}");

    let output = cli
        .run_with_stdin(
            &["console-user", "create", "alice", "--password-stdin"],
            b"other\n",
        )
        .await;
    assert!(!output.status.success());
    assert!(
        text(&output).1.contains("already exists"),
        "{:?}",
        text(&output)
    );

    let output = cli
        .run_with_stdin(
            &["console-user", "create", "bob", "--password-stdin"],
            b"\n",
        )
        .await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains("empty"), "{:?}", text(&output));

    let output = cli.run(&["console-user", "list"]).await;
    let (stdout, _) = text(&output);
    assert!(output.status.success());
    assert!(stdout.contains("alice"), "{stdout}");
    assert!(!stdout.contains("bob"), "{stdout}");

    // The password is the line read, without its newline.
    let response = console.try_login("alice", "s3cret pass").await;
    assert_eq!(response.status(), 303);

    let output = cli.run(&["console-user", "delete", "alice"]).await;
    assert!(output.status.success(), "{:?}", text(&output));
    let response = console.try_login("alice", "s3cret pass").await;
    assert_eq!(response.status(), 401);

    let output = cli.run(&["console-user", "delete", "alice"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output).1.contains("no console user"),
        "{:?}",
        text(&output)
    );
}

#[tokio::test]
async fn console_refuses_to_start_without_postgresql() {
    let app = TestApp::front_only().await;
    let mut config = app.config.clone();
    config.database.url = intake::config::Secret::new("postgres://intake:intake@127.0.0.1:1/none");
    config.database.connect_timeout_ms = 300;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let error = intake_tools::console::serve(config, listener, cancel)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("PostgreSQL"), "{error:#}");
}
