//! Faults: PostgreSQL going away under the consumer, RabbitMQ going away under the front and
//! the consumer, and SIGTERM on the real binaries. Outages are made for this test's process
//! only (its own database refuses connections; its broker connection runs through a proxy
//! the test cuts), so the shared servers keep running for everyone else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::proxy::{Proxy, broker_address, through};
use common::{TestApp, eventually, read};
use diesel::prelude::*;
use intake::config::Config;
use serde_json::json;

fn session(uuid: &str) -> serde_json::Value {
    json!({"session": {"uuid": uuid, "unit_id": "field-unit", "data": {"n": uuid}}})
}

/// A front without consumers whose broker connection runs through a proxy the test can cut,
/// its configuration tweaked by `tweak`.
async fn front_through_proxy(tweak: impl FnOnce(&mut Config)) -> (Proxy, TestApp) {
    let proxy = Proxy::start(broker_address()).await;
    let url = through(&proxy);
    let app = TestApp::front_with(|config| {
        config.broker.url = intake::config::BrokerUrls::parse(&url).unwrap();
        tweak(config);
    })
    .await;
    (proxy, app)
}

/// Waits until the front accepts `body` (after the broker came back).
async fn accepting_again(app: &TestApp, body: &serde_json::Value) {
    eventually("accepting again", Duration::from_secs(20), || async {
        (app.post_json(body).await.0 == 202).then_some(())
    })
    .await;
}

/// The answer of an upload shed because too many wait for the broker already.
fn assert_shed((status, body): (u16, serde_json::Value)) {
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("too many uploads"),
        "{body}"
    );
}

pub(crate) fn set_connections(db: &common::TestDb, allowed: bool) {
    let admin_url = db
        .url
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/postgres"))
        .unwrap();
    let mut conn = PgConnection::establish(&admin_url).unwrap();
    diesel::sql_query(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS {allowed}",
        db.name
    ))
    .execute(&mut conn)
    .unwrap();
    if !allowed {
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            db.name
        ))
        .execute(&mut conn)
        .unwrap();
    }
}

#[tokio::test]
async fn uploads_accepted_while_postgres_is_down_are_stored_when_it_returns() {
    let mut app = TestApp::spawn().await;
    assert_eq!(app.post_json(&session("before")).await.0, 202);
    app.stored("before").await;

    set_connections(&app.db, false);
    // The front does not need PostgreSQL to accept: its auth data is cached.
    let uuids: Vec<String> = (0..30).map(|i| format!("during-{i}")).collect();
    for uuid in &uuids {
        let (status, body) = app.post_json(&session(uuid)).await;
        assert_eq!(status, 202, "{body}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    set_connections(&app.db, true);

    for uuid in &uuids {
        assert_eq!(app.stored(uuid).await.points, json!({"n": uuid}));
    }
    assert_eq!(common::count(&app.db.url, "sessions"), 31);
    app.stop_consumers().await;
}

#[tokio::test]
async fn the_front_answers_503_fast_without_the_broker_and_recovers() {
    let (proxy, app) = front_through_proxy(|_| {}).await;
    assert_eq!(app.post_json(&session("ok-1")).await.0, 202);

    proxy.cut();
    let started = Instant::now();
    let (status, body) = app.post_json(&session("refused")).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (503, Some("service unavailable")),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "503 took {:?}",
        started.elapsed()
    );
    eventually("not ready", Duration::from_secs(5), || async {
        let response = app.http.get(app.url("/readyz")).send().await.ok()?;
        (response.status().as_u16() == 503).then_some(())
    })
    .await;

    proxy.restore();
    accepting_again(&app, &session("ok-2")).await;
    // Nothing was promised for the refused upload, and the accepted ones are durable.
    let mut app = app;
    app.start_consumer();
    app.stored("ok-1").await;
    app.stored("ok-2").await;
    assert!(app.stored_now("refused").await.is_none());
}

#[tokio::test]
async fn the_consumer_reconnects_to_the_broker_by_itself() {
    let proxy = Proxy::start(broker_address()).await;
    let mut app = TestApp::spawn_front_direct_consumer_via(&through(&proxy)).await;
    assert_eq!(app.post_json(&session("first")).await.0, 202);
    app.stored("first").await;

    proxy.cut();
    for i in 0..10 {
        assert_eq!(app.post_json(&session(&format!("queued-{i}"))).await.0, 202);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        app.stored_now("queued-0").await.is_none(),
        "the consumer is cut off"
    );
    proxy.restore();
    for i in 0..10 {
        app.stored(&format!("queued-{i}")).await;
    }
    app.stop_consumers().await;
}

#[tokio::test]
async fn a_hung_broker_sheds_load_fast_instead_of_queueing() {
    let (proxy, app) = front_through_proxy(|config| {
        config.front.max_in_flight_publishes = 2;
    })
    .await;
    assert_eq!(app.post_json(&session("before")).await.0, 202);
    proxy.freeze();
    // Two uploads wait for confirms that do not come; the third is shed at once.
    let waiting: Vec<_> = (0..2)
        .map(|i| {
            let request = app
                .signed(app.http.post(app.sessions_url()))
                .json(&session(&format!("held-{i}")));
            tokio::spawn(request.send())
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let response = app
        .signed(app.http.post(app.sessions_url()))
        .json(&session("shed"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("1")
    );
    assert_shed(read(response).await);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "shedding took {:?}",
        started.elapsed()
    );
    // The held ones time out (no confirm: no promise), then the front recovers.
    for handle in waiting {
        assert_eq!(handle.await.unwrap().unwrap().status(), 503);
    }
    proxy.thaw();
    accepting_again(&app, &session("after")).await;
}

#[tokio::test]
async fn large_uploads_waiting_for_a_hung_broker_are_bounded_in_bytes() {
    let (proxy, app) = front_through_proxy(|config| {
        config.front.max_in_flight_bytes = 8 * 1024;
    })
    .await;
    assert_eq!(app.post_json(&session("before")).await.0, 202);
    proxy.freeze();
    // One upload of about 6 KiB waits for a confirm that does not come; the count budget
    // (2,048) has room, but the bytes do not: the next 6 KiB upload is shed at once.
    let big = |uuid: &str| json!({"session": {"uuid": uuid, "unit_id": "field-unit", "data": {"n": "x".repeat(6000)}}});
    let held = tokio::spawn(
        app.signed(app.http.post(app.sessions_url()))
            .json(&big("held"))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_shed(app.post_json(&big("shed")).await);
    assert_eq!(held.await.unwrap().unwrap().status(), 503);
    proxy.thaw();
    // An upload larger than the whole budget still passes once it is alone.
    let huge = json!({"session": {"uuid": "huge", "unit_id": "field-unit",
                                  "data": {"n": "y".repeat(20_000)}}});
    accepting_again(&app, &huge).await;
}

impl TestApp {
    async fn spawn_front_direct_consumer_via(amqp_url: &str) -> Self {
        let mut app = TestApp::front_only().await;
        let url = amqp_url.to_owned();
        app.start_consumer_with(|config| {
            config.broker.url = intake::config::BrokerUrls::parse(&url).unwrap()
        });
        app
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn binary(name: &str, app: &TestApp) -> tokio::process::Command {
    let path = match name {
        "intake-front" => env!("CARGO_BIN_EXE_intake-front"),
        _ => env!("CARGO_BIN_EXE_intake-consumer"),
    };
    let mut command = tokio::process::Command::new(path);
    command
        .env(
            "INTAKE_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("INTAKE_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("AMQP_URL", common::amqp_url())
        .env("INTAKE_BROKER__EXCHANGE", &app.topology.exchange)
        .env("INTAKE_BROKER__QUEUE", &app.topology.queue)
        .env(
            "INTAKE_BROKER__DEAD_LETTER_EXCHANGE",
            &app.topology.dead_letter_exchange,
        )
        .env(
            "INTAKE_BROKER__DEAD_LETTER_QUEUE",
            &app.topology.dead_letter_queue,
        )
        .kill_on_drop(true);
    command
}

pub(crate) fn terminate(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
}

#[tokio::test]
async fn sigterm_lets_the_front_finish_in_flight_uploads_and_exit_0() {
    let app = TestApp::front_only().await;
    let port = free_port();
    let mut front = binary("intake-front", &app)
        .env("INTAKE_LISTEN", format!("127.0.0.1:{port}"))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    eventually("binary ready", Duration::from_secs(30), || async {
        let response = app.http.get(format!("{base}/readyz")).send().await.ok()?;
        response.status().is_success().then_some(())
    })
    .await;

    // A slow client is mid-upload when SIGTERM arrives.
    let body = serde_json::to_vec(&session("in-flight")).unwrap();
    let (first, rest) = body.split_at(10);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(first.to_vec()), Ok(rest.to_vec())];
    let slow = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        chunk
    });
    let url = format!("{base}/api/v1/projects/{}/sessions", app.project_id);
    let request = app
        .signed(app.http.post(url))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(slow));
    let upload = tokio::spawn(request.send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    terminate(&front);

    let (status, body) = read(upload.await.unwrap().unwrap()).await;
    assert_eq!(status, 202, "{body}");
    let exit = tokio::time::timeout(Duration::from_secs(15), front.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "front exited with {exit}");

    let mut app = app;
    app.start_consumer();
    app.stored("in-flight").await;
}

#[tokio::test]
async fn the_consumer_binary_serves_metrics_and_stops_cleanly_on_sigterm() {
    let app = TestApp::front_only().await;
    assert_eq!(app.post_json(&session("queued")).await.0, 202);
    let port = free_port();
    // Logs into a pipe, as into a file: plain text, no colour codes.
    let consumer = binary("intake-consumer", &app)
        .env("INTAKE_CONSUMER__LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    app.stored("queued").await;
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        app.http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The row is visible at commit; the counters move just after the ack.
    let metrics = eventually("stored upload counted", Duration::from_secs(10), || async {
        let text = app
            .http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.contains("intake_uploads_total{outcome=\"stored\"} 1")
            .then_some(text)
    })
    .await;
    assert!(metrics.contains("intake_batch_write_seconds"), "{metrics}");
    assert!(metrics.contains("intake_queue_lag_seconds"), "{metrics}");

    terminate(&consumer);
    let output = tokio::time::timeout(Duration::from_secs(15), consumer.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "consumer exited with {}",
        output.status
    );
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("INFO"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log that is not a terminal: {logs}"
    );
}

#[tokio::test]
async fn binaries_refuse_an_unmigrated_database() {
    let app = TestApp::front_only().await;
    let empty = common::TestDb::create();
    {
        let mut conn = empty.conn();
        diesel::sql_query("DROP TABLE __diesel_schema_migrations")
            .execute(&mut conn)
            .unwrap();
    }
    let output = binary("intake-consumer", &app)
        .env("DATABASE_URL", &empty.url)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("intake migrate"), "{stderr}");
}

use futures_util::StreamExt as _;
