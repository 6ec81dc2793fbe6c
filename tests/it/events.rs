//! Stored-events: one per upload after its batch committed, of the right kind, and never
//! lost when the consumer fails between the commit and the events' confirms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures_util::StreamExt as _;
use intake::events::{Event, Kind, WriteKind};
use intake_tools::events_tail::{Subscription, subscribe};
use lapin::options::{BasicAckOptions, ExchangeDeleteOptions};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::common::cli::{Cli, text};
use crate::common::{self, TestApp, eventually};
use crate::faults::{free_port, terminate};
use crate::tools_dlq::upload;

/// The next `count` events: routing key and body, failing the test after 20 s.
pub(crate) async fn take(subscription: &mut Subscription, count: usize) -> Vec<(String, Event)> {
    let mut taken = Vec::new();
    while taken.len() < count {
        let delivery = tokio::time::timeout(Duration::from_secs(20), subscription.events.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} events arrived", taken.len()))
            .expect("subscription open")
            .expect("delivery");
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
        let event: Event = serde_json::from_slice(&delivery.data).expect("event JSON");
        taken.push((delivery.routing_key.to_string(), event));
    }
    taken
}

/// Nothing more arrives within a second.
pub(crate) async fn quiet(subscription: &mut Subscription) {
    let next = tokio::time::timeout(Duration::from_secs(1), subscription.events.next()).await;
    assert!(next.is_err(), "an unexpected event: {next:?}");
}

pub(crate) fn with_events(config: &mut intake::config::Config) {
    config.consumer.events = true;
}

#[tokio::test]
async fn every_upload_gets_one_event_naming_what_became_of_it() {
    let mut app = TestApp::front_only().await;
    let mut all = subscribe(&app.config, None, None).await.unwrap();
    app.start_consumer_with(with_events);

    let created = app
        .create_stored(&json!({"session": {"uuid": "s-1", "unit_id": "u"}}))
        .await;
    let (routing_key, event) = take(&mut all, 1).await.remove(0);
    assert_eq!(routing_key, format!("{}.stored", app.project_id));
    assert_eq!(event.kind, Kind::Stored);
    assert_eq!(event.version, 1);
    assert_eq!(event.project, Some(app.project_id));
    assert_eq!(event.uuid.as_deref(), Some("s-1"));
    assert_eq!(event.upload_id, Some(created.upload_id));
    assert_eq!(event.write, Some(WriteKind::Create));
    assert_eq!(event.received_from.as_deref(), Some(app.username.as_str()));

    let path = app.project_path("/sessions/s-1");
    let (status, body) = app.send_json(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 202, "{body}");
    let (routing_key, event) = take(&mut all, 1).await.remove(0);
    assert_eq!(routing_key, format!("{}.deleted", app.project_id));
    assert_eq!(
        (event.kind, event.write),
        (Kind::Deleted, Some(WriteKind::Delete))
    );

    // An older upload arriving after a newer one changes nothing: superseded.
    let older = upload(app.project_id, "s-2");
    let newer = upload(app.project_id, "s-2");
    common::publish_uploads(&app, &[&newer]).await;
    let stored = take(&mut all, 1).await.remove(0).1;
    assert_eq!(
        (stored.kind, stored.upload_id),
        (Kind::Stored, Some(newer.stamp.upload_id))
    );
    common::publish_uploads(&app, &[&older]).await;
    let superseded = take(&mut all, 1).await.remove(0);
    assert_eq!(superseded.0, format!("{}.superseded", app.project_id));
    assert_eq!(superseded.1.upload_id, Some(older.stamp.upload_id));
    assert_eq!(
        app.stored_now("s-2").await.unwrap().upload_id,
        newer.stamp.upload_id
    );

    // A project that does not exist: dead-lettered, with the reason.
    let orphan = upload(999_999_999, "s-3");
    common::publish_uploads(&app, &[&orphan]).await;
    let (routing_key, dead) = take(&mut all, 1).await.remove(0);
    assert_eq!(routing_key, "999999999.dead-lettered");
    assert_eq!(dead.upload_id, Some(orphan.stamp.upload_id));
    assert!(
        dead.reason
            .as_deref()
            .unwrap_or_default()
            .contains("does not exist"),
        "{dead:?}"
    );
    quiet(&mut all).await;
}

#[tokio::test]
async fn a_subscription_gets_only_its_project_and_kind() {
    let mut app = TestApp::front_only().await;
    let mut deletes = subscribe(&app.config, Some(app.project_id), Some(Kind::Deleted))
        .await
        .unwrap();
    app.start_consumer_with(with_events);
    app.create_stored(&json!({"session": {"uuid": "s-1", "unit_id": "u"}}))
        .await;
    let path = app.project_path("/sessions/s-1");
    let (status, _) = app.send_json(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 202);
    let (routing_key, event) = take(&mut deletes, 1).await.remove(0);
    assert_eq!(routing_key, format!("{}.deleted", app.project_id));
    assert_eq!(event.uuid.as_deref(), Some("s-1"));
    quiet(&mut deletes).await;
}

/// The consumer fails after the commit, before its events are confirmed (their exchange is
/// gone); it is stopped and another one started: the batch comes again, its write is now a
/// no-op, and its event is emitted — still `stored`, with the same upload id.
#[tokio::test]
async fn a_batch_whose_events_failed_is_delivered_again_and_emits_them() {
    let mut app = TestApp::front_only().await;
    let listen = format!("127.0.0.1:{}", free_port());
    let first_listen = listen.clone();
    app.start_consumer_with(|config| {
        with_events(config);
        config.consumer.listen = first_listen.parse().unwrap();
        // The failed consumer stays down until the test stops it.
        config.broker.reconnect_initial_ms = 600_000;
    });
    let readyz = format!("http://{listen}/readyz");
    let ready = |want: bool| {
        let (http, readyz) = (app.http.clone(), readyz.clone());
        async move {
            let response = http.get(&readyz).send().await.ok()?;
            (response.status().is_success() == want).then_some(())
        }
    };
    eventually("consumer ready", Duration::from_secs(20), || ready(true)).await;

    let (conn, channel) = common::raw_channel(&app.config).await;
    channel
        .exchange_delete(
            app.config.broker.events_exchange.as_str().into(),
            ExchangeDeleteOptions::default(),
        )
        .await
        .unwrap();

    let upload = upload(app.project_id, "s-1");
    common::publish_uploads(&app, &[&upload]).await;
    eventually("the upload committed", Duration::from_secs(20), || async {
        app.stored_now("s-1")
            .await
            .filter(|s| s.upload_id == upload.stamp.upload_id)
    })
    .await;
    eventually("the consumer failed", Duration::from_secs(20), || {
        ready(false)
    })
    .await;
    app.stop_consumers().await;

    // Subscribing declares the exchange again (as the next consumer would).
    let mut all = subscribe(&app.config, None, None).await.unwrap();
    app.start_consumer_with(with_events);
    let (routing_key, event) = take(&mut all, 1).await.remove(0);
    assert_eq!(routing_key, format!("{}.stored", app.project_id));
    assert_eq!(event.upload_id, Some(upload.stamp.upload_id));
    assert_eq!(event.kind, Kind::Stored);
    quiet(&mut all).await;
    let stored = app.stored_now("s-1").await.unwrap();
    assert_eq!(stored.upload_id, upload.stamp.upload_id);
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn events_tail_prints_what_it_was_asked_for_and_stops_on_sigterm() {
    let mut app = TestApp::front_only().await;
    app.start_consumer_with(with_events);
    let cli = Cli::for_app(&app);
    let project = app.project_id.to_string();
    let mut tail = cli.spawn(&["events", "tail", "--project", &project, "--kind", "deleted"]);
    let mut stderr = BufReader::new(tail.stderr.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(20), stderr.next_line())
        .await
        .expect("the tail says what it listens for")
        .unwrap()
        .unwrap_or_default();
    assert!(
        listening.contains(&format!("{project}.deleted")),
        "{listening}"
    );

    app.create_stored(&json!({"session": {"uuid": "s-1", "unit_id": "u"}}))
        .await;
    let path = app.project_path("/sessions/s-1");
    let (status, _) = app.send_json(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 202);
    let mut stdout = BufReader::new(tail.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
        .await
        .expect("an event printed")
        .unwrap()
        .unwrap();
    let event: Event = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (event.kind, event.uuid.as_deref()),
        (Kind::Deleted, Some("s-1"))
    );

    terminate(&tail);
    let status = tokio::time::timeout(Duration::from_secs(10), tail.wait())
        .await
        .expect("the tail stops")
        .unwrap();
    assert!(status.success(), "{status}");

    let refused = cli.run(&["events", "tail", "--kind", "gone"]).await;
    let (_, errors) = text(&refused);
    assert_eq!(refused.status.code(), Some(2), "{errors}");
    assert!(errors.contains("unknown event kind"), "{errors}");
}
