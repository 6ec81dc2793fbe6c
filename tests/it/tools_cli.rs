//! The `intake` binary as an operator runs it, from another directory: the front's URL comes
//! from the configuration, `--config` replaces the working directory's `config/`, a missing
//! configuration is named with where it was looked for, and every exit code tells whether
//! the command did what was asked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::TestApp;
use common::cli::{Cli, text};

/// `intake loadgen` for a project and user, `count` uploads, then `extra`.
fn loadgen<'a>(project: &'a str, user: &'a str, secret: &'a str, count: &'a str) -> Vec<&'a str> {
    vec![
        "loadgen",
        "--project",
        project,
        "-u",
        user,
        "-s",
        secret,
        "--count",
        count,
    ]
}

#[tokio::test]
async fn loadgen_finds_the_configured_front_and_verifies_with_the_configured_database() {
    let app = TestApp::spawn().await;
    let cli = Cli::for_app(&app);
    let project = app.project_id.to_string();
    let mut args = loadgen(&project, &app.username, &app.secret, "30");
    args.extend([
        "--verify",
        "--quiet",
        "--timeseries",
        "seconds.csv",
        "--plot",
        "latency.svg",
    ]);
    let output = cli.run(&args).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("front:       http://{}", app.address)),
        "{stdout}"
    );
    assert!(stdout.contains("accepted:    30"), "{stdout}");
    assert_eq!(common::count(&app.db.url, "sessions"), 30);
    // Files named relative to the working directory, as a shell user expects.
    let csv = std::fs::read_to_string(cli.dir.join("seconds.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("second,sent,accepted,failed_4xx"),
        "{csv}"
    );
    let sent: u64 = lines
        .map(|line| line.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sent, 30, "{csv}");
    let svg = std::fs::read_to_string(cli.dir.join("latency.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("<polyline"),
        "{svg}"
    );
}

#[tokio::test]
async fn loadgen_exits_non_zero_when_requests_fail_unless_allowed() {
    // A port nothing listens on: every request fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cli = Cli::with_config(&format!("[front]\nlisten = \"{closed}\"\n"));
    let mut args = loadgen("1", "nobody", "x", "5");
    args.push("-q");
    let output = cli.run(&args).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("front:       http://{closed}")),
        "{stdout}"
    );
    assert!(stderr.contains("5 of 5 requests failed"), "{stderr}");

    let mut tolerant = args.clone();
    tolerant.extend(["--max-error-rate", "1"]);
    let output = cli.run(&tolerant).await;
    assert!(output.status.success(), "{:?}", text(&output));
}

#[tokio::test]
async fn loadgen_exits_non_zero_when_uploads_are_refused() {
    let app = TestApp::spawn().await;
    let cli = Cli::for_app(&app);
    let project = app.project_id.to_string();
    let mut args = loadgen(&project, &app.username, "wrong-secret", "4");
    args.push("-q");
    let output = cli.run(&args).await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("HTTP 403: 4"), "{stdout}");
}

#[tokio::test]
async fn without_a_configuration_the_error_says_what_was_looked_for() {
    let cli = Cli::with_config("");
    for args in [
        &["dlq", "list"][..],
        &["replay", "broker", "archive"][..],
        &["loadgen", "--project", "1", "-u", "x", "-s", "y"][..],
        &["config", "show"][..],
        &["migrate"][..],
    ] {
        let output = cli.run_without_config(args).await;
        let (stdout, stderr) = text(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {stdout}\n{stderr}"
        );
        let looked_for = cli.dir.join("config/default.toml");
        assert!(
            stderr.contains(&looked_for.display().to_string())
                && stderr.contains("INTAKE_CONFIG_DIR")
                && stderr.contains("--config"),
            "{args:?}: {stderr}"
        );
    }
    let output = cli
        .run_without_config(&["--config", "missing.toml", "dlq", "list"])
        .await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[tokio::test]
async fn config_show_redacts_passwords_and_check_names_problems() {
    let cli = Cli::with_config(
        "[front]\nlisten = \"127.0.0.1:18080\"\n\n[database]\n\
         url = \"postgres://ops:hunter2@db.example:5432/intake\"\n",
    );
    let output = cli.run(&["config", "show"]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("listen = \"127.0.0.1:18080\""), "{stdout}");
    assert!(
        stdout.contains("postgres://ops:[redacted]@db.example:5432/intake"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");
    // The defaults fill in what the file leaves out.
    assert!(stdout.contains("prefetch = 512"), "{stdout}");

    let output = cli.run(&["config", "check"]).await;
    assert!(output.status.success(), "{:?}", text(&output));

    let bad = Cli::with_config("[consumer]\nworkers = 0\n[front]\ntls_cert = \"/x.pem\"\n");
    let output = bad.run(&["config", "check"]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("consumer.workers"), "{stderr}");
    assert!(stderr.contains("tls_key"), "{stderr}");
    assert!(stderr.contains("2 problems"), "{stderr}");

    let typo = Cli::with_config("[front]\nlisten_adress = \"x\"\n");
    let output = typo.run(&["config", "check"]).await;
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("listen_adress"), "{stderr}");
}

#[tokio::test]
async fn replay_exits_non_zero_when_records_fail() {
    let app = TestApp::spawn().await;
    let cli = Cli::for_app(&app);
    let file = cli.dir.join("sessions.ndjson");
    let good = format!(
        "{{\"project_id\": {}, \"session\": {{\"uuid\": \"r-1\", \"unit_id\": \"u\"}}}}",
        app.project_id
    );
    std::fs::write(&file, format!("{good}\n")).unwrap();
    let file = file.to_str().unwrap();
    // As the app's user, quietly: the exit code and stderr are what is checked.
    let replay = || async {
        cli.run(&[
            "replay",
            "http",
            file,
            "-u",
            &app.username,
            "-s",
            &app.secret,
            "-q",
        ])
        .await
    };
    let output = replay().await;
    assert!(output.status.success(), "{:?}", text(&output));
    app.stored("r-1").await;

    // A line that is not a session, and a project the user may not write to.
    std::fs::write(
        cli.dir.join("sessions.ndjson"),
        format!(
            "{good}\nnot json\n{{\"project_id\": 999999, \"session\": {{\"unit_id\": \"u\"}}}}\n"
        ),
    )
    .unwrap();
    let output = replay().await;
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("2 records were not replayed"), "{stderr}");

    let output = cli
        .run(&["replay", "broker", "no-such-archive", "-q"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
}

#[tokio::test]
async fn dlq_exits_non_zero_when_asked_for_what_is_not_there() {
    let app = TestApp::front_only().await;
    let cli = Cli::for_app(&app);
    let output = cli.run(&["dlq", "list"]).await;
    assert!(output.status.success(), "{:?}", text(&output));
    let output = cli
        .run(&["dlq", "show", "0192f3a0-0000-7000-8000-000000000000"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
}

#[tokio::test]
async fn usage_errors_exit_non_zero() {
    let cli = Cli::with_config("");
    for args in [
        &["loadgen"][..],
        &["no-such-command"][..],
        &["user", "grant", "x", "not-a-number"][..],
    ] {
        let output = cli.run(args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {:?}",
            text(&output)
        );
    }
}
