//! Reads from a streaming replica (`database.read_url`): the read routes answer from the
//! standby `scripts/replica.sh` runs, `?wait=stored` and the update checks from the primary,
//! and a replica that cannot be reached sends reads to the primary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{TestApp, eventually, read};
use diesel::{Connection, PgConnection};
use intake::config::Secret;
use reqwest::Method;
use serde_json::{Value, json};

/// Runs `scripts/replica.sh ARG`; its standard output when it succeeded.
fn replica_script(arg: &str) -> Option<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/replica.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(arg)
        .output()
        .expect("run bash");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn has_pg_basebackup() -> bool {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions
                .flatten()
                .any(|version| version.path().join("bin/pg_basebackup").exists())
        })
        .unwrap_or(false);
    installed
        || Command::new("pg_basebackup")
            .arg("--version")
            .output()
            .is_ok()
}

/// The standby for one test: started unless it already ran (then left running), replay
/// always resumed at the end, and stopped only if this test started it.
struct Standby {
    url: String,
    started_here: bool,
}

impl Standby {
    fn up() -> Self {
        let started_here = replica_script("status").is_none();
        replica_script("up").expect("scripts/replica.sh up");
        let url = replica_script("url").expect("scripts/replica.sh url");
        Self { url, started_here }
    }

    /// The URL of `primary_url`'s database on the standby.
    fn same_database(&self, primary_url: &str) -> String {
        let (_, name) = primary_url.rsplit_once('/').unwrap();
        let (base, _) = self.url.rsplit_once('/').unwrap();
        format!("{base}/{name}")
    }

    async fn script(arg: &'static str) {
        tokio::task::spawn_blocking(move || replica_script(arg))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("scripts/replica.sh {arg}"));
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        let _ = replica_script("resume");
        if self.started_here {
            let _ = replica_script("down");
        }
    }
}

fn session(uuid: &str, value: &str) -> Value {
    json!({"session": {"uuid": uuid, "unit_id": "unit-r", "data": {"reading": value}}})
}

/// `intake_replica_fallbacks_total`, 0 while it was never counted.
fn fallbacks(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("intake_replica_fallbacks_total "))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test]
async fn reads_come_from_the_replica_and_wait_stored_from_the_primary() {
    if !has_pg_basebackup() {
        eprintln!("skipped: pg_basebackup is not installed, so no standby can be made");
        return;
    }
    let standby = tokio::task::spawn_blocking(Standby::up).await.unwrap();
    let mut app = TestApp::front_with(|config| {
        let on_replica = standby.same_database(config.database.url.expose());
        config.database.read_url = Some(Secret::new(on_replica));
    })
    .await;
    app.start_consumer();
    // The test's database reaches the standby by replication, like everything else.
    let replica_url = app.config.database.read_url.clone().unwrap();
    eventually(
        "the test database on the replica",
        Duration::from_secs(60),
        || {
            let url = replica_url.expose().to_owned();
            async move { PgConnection::establish(&url).ok().map(|_| ()) }
        },
    )
    .await;

    // Without lag a write soon reads back through the replica.
    assert_eq!(app.post_json(&session("first", "1")).await.0, 202);
    let first = app
        .read_until("first", |s| s["data"]["reading"] == "1")
        .await;
    assert_eq!(first["unit_id"], "unit-r");
    let (status, devices) = app.get_json(&app.project_path("/devices")).await;
    assert_eq!(
        (status, devices["result"][0]["unit_id"].as_str()),
        (200, Some("unit-r"))
    );

    // Lag: replay stops on the standby, writes go on on the primary.
    Standby::script("pause").await;
    let (status, body) = read(app.post_json_wait_stored(&session("second", "2")).await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
    assert_eq!(body["result"]["data"]["reading"], "2");
    assert!(app.stored_now("second").await.is_some(), "on the primary");
    let (status, _) = app.get_json(&app.project_path("/sessions/second")).await;
    assert_eq!(status, 404, "the lagging replica does not have it yet");
    let (status, page) = app.get_json(&app.project_path("/sessions")).await;
    assert_eq!(status, 200);
    let uuids: Vec<&str> = page["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["uuid"].as_str())
        .collect();
    assert_eq!(uuids, ["first"], "the list lags too");

    // An update checks the session on the primary and answers what it stored there.
    let patch = app.project_path("/sessions/first?wait=stored");
    let update = json!({"session": {"data": {"reading": "1b"}}});
    let (status, body) = app.send_json(Method::PATCH, &patch, Some(update)).await;
    assert_eq!(
        (status, body["result"]["data"]["reading"].as_str()),
        (200, Some("1b")),
        "{body}"
    );
    let (_, stale) = app.get_json(&app.project_path("/sessions/first")).await;
    assert_eq!(
        stale["result"]["data"]["reading"], "1",
        "read routes show the old value"
    );

    // Replay resumes and the reads catch up.
    Standby::script("resume").await;
    app.read_until("second", |s| s["data"]["reading"] == "2")
        .await;
    app.read_until("first", |s| s["data"]["reading"] == "1b")
        .await;
    assert_eq!(
        fallbacks(&app.metrics_text().await),
        0,
        "every read was answered by the replica"
    );
    app.stop_consumers().await;
    drop(app);
    drop(standby);
}

#[tokio::test]
async fn reads_fall_back_to_the_primary_while_the_replica_is_down() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::front_with(|config| {
        let dead = format!("postgres://intake:intake@127.0.0.1:{port}/intake");
        config.database.read_url = Some(Secret::new(dead));
    })
    .await;
    let mut app = app;
    app.start_consumer();
    let response = app.post_json_wait_stored(&session("kept", "k")).await;
    assert_eq!(read(response).await.0, 200);

    for _ in 0..2 {
        let (status, body) = app.get_json(&app.project_path("/sessions/kept")).await;
        assert_eq!(
            (status, body["result"]["data"]["reading"].as_str()),
            (200, Some("k")),
            "{body}"
        );
    }
    let (status, page) = app.get_json(&app.project_path("/sessions")).await;
    assert_eq!(
        (status, page["result"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    assert!(
        fallbacks(&app.metrics_text().await) >= 3,
        "each read is counted"
    );
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a dead replica does not make the front unready"
    );
}
