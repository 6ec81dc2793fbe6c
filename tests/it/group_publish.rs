//! Group publishing against the real broker: uploads that arrive while a publish is in
//! flight land on the queue as one group message, and each is answered only once that
//! message is confirmed. The front's broker connection runs through a proxy the test
//! freezes, so that a publish stays in flight exactly as long as the test needs; the queue
//! is read with basic.get (no consumer runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod queue;

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use common::proxy::{Proxy, broker_address, through};
use common::{TestApp, read};
use intake::config::Config;
use intake::wire::group;
use lapin::options::QueueBindOptions;
use lapin::types::FieldTable;
use queue::{assert_single, drain, exactly_once, metrics};
use serde_json::json;
use uuid::Uuid;

fn session(uuid: &str) -> serde_json::Value {
    json!({"session": {"uuid": uuid, "unit_id": "field-unit", "data": {"n": uuid}}})
}

/// A front whose broker connection goes through a proxy, grouping on unless `tweak` turns it
/// off, with one message in flight before uploads gather (so that one held confirm makes the
/// rest gather) unless `tweak` widens it.
async fn front(tweak: impl FnOnce(&mut Config)) -> (Proxy, TestApp) {
    let proxy = Proxy::start(broker_address()).await;
    let url = through(&proxy);
    let app = TestApp::front_with(|config| {
        config.broker.url = intake::config::BrokerUrls::parse(&url).unwrap();
        // Room for a slow machine: the test holds confirms back for well under a second.
        config.front.publish_timeout_ms = 5000;
        config.front.group_publish = true;
        config.front.group_in_flight = 1;
        tweak(config);
    })
    .await;
    (proxy, app)
}

/// Posts without waiting: status and upload id (if any), later.
fn post(app: &TestApp, body: &serde_json::Value) -> tokio::task::JoinHandle<(u16, Option<Uuid>)> {
    let request = app.signed(app.http.post(app.sessions_url())).json(body);
    tokio::spawn(answer(request))
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Option<Uuid>) {
    let response = request.send().await.unwrap();
    let id = response
        .headers()
        .get("x-upload-id")
        .and_then(|value| value.to_str().ok()?.parse().ok());
    (read(response).await.0, id)
}

/// One upload in flight (its confirm held back), then `gathered` uploads arriving meanwhile,
/// then the confirm let through. The first's id and the others' ids, all answered `202`.
async fn held_then(proxy: &Proxy, app: &TestApp, gathered: &[serde_json::Value]) -> Vec<Uuid> {
    held_many_then(proxy, app, 1, gathered).await
}

/// `held` uploads in flight one after another (their confirms held back), then `gathered`
/// uploads arriving meanwhile, then the confirms let through. The ids in that order.
async fn held_many_then(
    proxy: &Proxy,
    app: &TestApp,
    held: usize,
    gathered: &[serde_json::Value],
) -> Vec<Uuid> {
    proxy.freeze();
    let mut handles = Vec::new();
    for i in 0..held {
        handles.push(post(app, &session(&format!("held-{i}"))));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    handles.extend(gathered.iter().map(|body| post(app, body)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.thaw();
    let mut ids = Vec::new();
    for handle in handles {
        let (status, id) = handle.await.unwrap();
        assert_eq!(status, 202);
        ids.push(id.unwrap());
    }
    ids
}

#[tokio::test]
async fn uploads_that_arrive_while_a_publish_is_in_flight_land_as_one_group() {
    let (proxy, app) = front(|_| {}).await;
    // Idle: at once, as the plain single message it always was.
    let (status, idle) = answer(
        app.signed(app.http.post(app.sessions_url()))
            .json(&session("idle")),
    )
    .await;
    assert_eq!(status, 202);
    let idle = idle.unwrap();
    let gathered: Vec<_> = (0..5).map(|i| session(&format!("g-{i}"))).collect();
    let ids = held_then(&proxy, &app, &gathered).await;

    let queued = drain(&app).await;
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert_single(&queued[0], idle);
    assert_single(&queued[1], ids[0]);
    let group = &queued[2];
    assert!(group.is_group(), "{group:?}");
    assert_eq!(group.schema, Some(group::GROUP_SCHEMA_VERSION));
    assert_eq!(group.size_header, Some(5));
    assert!(group.persistent);
    assert!(!ids.iter().any(|id| id.to_string() == group.message_id));
    assert_eq!(
        group.uploads.iter().collect::<HashSet<_>>(),
        ids[1..].iter().collect()
    );
    exactly_once(&queued, &[vec![idle], ids].concat());

    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("intake_publish_groups_total{result=\"confirmed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("intake_publish_group_size_count 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn below_group_in_flight_uploads_go_at_once_and_past_it_they_gather() {
    let (proxy, app) = front(|config| config.front.group_in_flight = 2).await;
    let gathered: Vec<_> = (0..4).map(|i| session(&format!("w-{i}"))).collect();
    let ids = held_many_then(&proxy, &app, 2, &gathered).await;

    let queued = drain(&app).await;
    // Two alone (the second did not wait for the first's confirm), then one group.
    assert_eq!(queued.len(), 3, "{queued:?}");
    assert_single(&queued[0], ids[0]);
    assert_single(&queued[1], ids[1]);
    assert!(queued[2].is_group(), "{:?}", queued[2]);
    assert_eq!(
        queued[2].uploads.iter().collect::<HashSet<_>>(),
        ids[2..].iter().collect()
    );
    exactly_once(&queued, &ids);
}

#[tokio::test]
async fn a_large_file_upload_goes_alone() {
    let (proxy, app) = front(|_| {}).await;
    proxy.freeze();
    let first = post(&app, &session("first"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let small: Vec<_> = (0..2)
        .map(|i| post(&app, &session(&format!("s-{i}"))))
        .collect();
    let photo: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", "with-photo")
        .text("session[unit_id]", "camera-3")
        .part(
            "session[data][photo1]",
            reqwest::multipart::Part::bytes(photo)
                .file_name("door.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let large = tokio::spawn(answer(
        app.signed(app.http.post(app.sessions_url()))
            .multipart(form),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.thaw();
    let first = first.await.unwrap().1.unwrap();
    let large = large.await.unwrap();
    assert_eq!(large.0, 202);
    let large = large.1.unwrap();
    let mut small_ids = Vec::new();
    for handle in small {
        small_ids.push(handle.await.unwrap().1.unwrap());
    }

    let queued = drain(&app).await;
    assert_eq!(queued.len(), 3, "{queued:?}");
    let alone = queued.iter().find(|m| m.uploads.contains(&large)).unwrap();
    assert_single(alone, large);
    let group = queued.iter().find(|m| m.is_group()).unwrap();
    assert_eq!(
        group.uploads.iter().collect::<HashSet<_>>(),
        small_ids.iter().collect()
    );
    exactly_once(&queued, &[vec![first, large], small_ids].concat());
}

#[tokio::test]
async fn grouping_off_publishes_one_message_per_upload() {
    let (proxy, app) = front(|config| config.front.group_publish = false).await;
    let gathered: Vec<_> = (0..5).map(|i| session(&format!("g-{i}"))).collect();
    let ids = held_then(&proxy, &app, &gathered).await;
    let queued = drain(&app).await;
    assert_eq!(queued.len(), 6, "{queued:?}");
    for message in &queued {
        assert_single(message, message.uploads[0]);
    }
    exactly_once(&queued, &ids);
}

#[tokio::test]
async fn a_group_holds_at_most_group_max_uploads() {
    let (proxy, app) = front(|config| config.front.group_max_uploads = 3).await;
    let gathered: Vec<_> = (0..7).map(|i| session(&format!("g-{i}"))).collect();
    let ids = held_then(&proxy, &app, &gathered).await;
    let queued = drain(&app).await;
    // The first alone; two full groups at once; the last one once the first is answered.
    let sizes: Vec<usize> = queued.iter().map(|m| m.uploads.len()).collect();
    assert_eq!(sizes, vec![1, 3, 3, 1], "{queued:?}");
    assert!(queued.iter().all(|m| m.is_group() == (m.uploads.len() > 1)));
    assert!(
        queued
            .iter()
            .filter(|m| m.is_group())
            .all(|m| m.size_header == Some(3))
    );
    exactly_once(&queued, &ids);
}

#[tokio::test]
async fn a_group_the_broker_refuses_answers_503_to_each_of_its_uploads() {
    let (proxy, app) = front(|_| {}).await;
    let conn = lapin::Connection::connect(&common::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let (queue, exchange) = (&app.config.broker.queue, &app.config.broker.exchange);
    proxy.freeze();
    let first = post(&app, &session("first"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let others: Vec<_> = (0..4)
        .map(|i| post(&app, &session(&format!("g-{i}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No queue takes them any more: the broker returns every message as unroutable.
    channel
        .queue_unbind(
            queue.as_str().into(),
            exchange.as_str().into(),
            intake::broker::ROUTING_KEY.into(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    proxy.thaw();
    assert_eq!(first.await.unwrap().0, 503);
    for handle in others {
        assert_eq!(handle.await.unwrap().0, 503);
    }
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("intake_publish_groups_total{result=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(drain(&app).await.is_empty());

    // Routable again: accepted again.
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            intake::broker::ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(app.post_json(&session("after")).await.0, 202);
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn a_burst_of_concurrent_uploads_lands_exactly_once_in_fewer_messages() {
    let (_proxy, app) = front(|_| {}).await;
    let posts: Vec<_> = (0..60)
        .map(|i| post(&app, &session(&format!("burst-{i}"))))
        .collect();
    let mut ids = Vec::new();
    for handle in posts {
        let (status, id) = handle.await.unwrap();
        assert_eq!(status, 202);
        ids.push(id.unwrap());
    }
    let queued = drain(&app).await;
    exactly_once(&queued, &ids);
    for message in &queued {
        if message.is_group() {
            assert_eq!(message.size_header, Some(message.uploads.len() as u32));
            assert!(message.uploads.len() > 1);
        } else {
            assert_single(message, message.uploads[0]);
        }
    }
    // Sixty uploads at once cannot all find their lane idle.
    assert!(queued.len() < ids.len(), "{} messages", queued.len());
}
