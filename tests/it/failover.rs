//! Broker failover: `broker.url` as a list of nodes. Each node is a TCP proxy in front of
//! the real broker that the test cuts, as if that node had died: the front and the consumer
//! must move to the next node at once, lose nothing they accepted, and refuse only the
//! uploads whose confirm died with the connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::faults::binary;

use std::time::{Duration, Instant};

use common::proxy::{Proxy, broker_address, through};
use common::{TestApp, eventually};
use intake::config::BrokerUrls;
use serde_json::json;

fn session(uuid: &str) -> serde_json::Value {
    json!({"session": {"uuid": uuid, "unit_id": "field-unit", "data": {"n": uuid}}})
}

/// A front and a consumer, both given `urls`.
async fn app_on(urls: &str) -> TestApp {
    let list = BrokerUrls::parse(urls).unwrap();
    let mut app = TestApp::front_with(|config| config.broker.url = list.clone()).await;
    app.start_consumer();
    app
}

#[tokio::test]
async fn front_and_consumer_move_to_the_next_node_when_theirs_dies() {
    let (first, second) = (
        Proxy::start(broker_address()).await,
        Proxy::start(broker_address()).await,
    );
    let app = app_on(&format!("{},{}", through(&first), through(&second))).await;
    assert_eq!(app.post_json(&session("before")).await.0, 202);
    app.stored("before").await;

    // Four clients post without pause while the first node dies under them.
    let app = std::sync::Arc::new(app);
    // Each client keeps posting until it has sent 20 after the cut, however fast the
    // machine: a fixed count could all be answered before the cut.
    let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (app, cut) = (std::sync::Arc::clone(&app), std::sync::Arc::clone(&cut));
        clients.push(tokio::spawn(async move {
            let (mut answers, mut after) = (Vec::new(), 0);
            for i in 0..2_000 {
                let was_cut = cut.load(std::sync::atomic::Ordering::SeqCst);
                let uuid = format!("c{client}-{i}");
                let status = app.post_json(&session(&uuid)).await.0;
                answers.push((uuid, status, Instant::now()));
                after += usize::from(was_cut);
                if after >= 20 {
                    break;
                }
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cut_at = Instant::now();
    first.cut();
    cut.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }

    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != 202)
        .collect();
    assert!(
        refused.iter().all(|(_, status, _)| *status == 503),
        "{refused:?}"
    );
    // Only an upload whose confirm was lost with the connection is refused: one per client.
    assert!(refused.len() <= 4, "refused {refused:?}");
    let after_cut = answers
        .iter()
        .filter(|(_, status, at)| *status == 202 && *at > cut_at)
        .count();
    assert!(after_cut > 0, "nothing accepted after the node died");
    // The consumer was on the dead node too: what was accepted after the cut is stored.
    for (uuid, status, _) in &answers {
        if *status == 202 {
            assert_eq!(app.stored(uuid).await.points, json!({"n": uuid}));
        }
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a node answers, so the front is ready");
    let mut app = std::sync::Arc::into_inner(app).unwrap();
    app.stop_consumers().await;
}

#[tokio::test]
async fn a_dead_first_node_still_starts_and_serves() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let real = common::amqp_url();
    let dead_url = format!("amqp://intake:intake@127.0.0.1:{dead_port}/intake");
    let mut app = app_on(&format!("{dead_url},{real}")).await;
    assert_eq!(app.post_json(&session("one")).await.0, 202);
    app.stored("one").await;
    app.stop_consumers().await;
}

#[tokio::test]
async fn readyz_is_false_only_while_no_node_answers() {
    let (first, second) = (
        Proxy::start(broker_address()).await,
        Proxy::start(broker_address()).await,
    );
    let app = TestApp::front_with(|config| {
        config.broker.url =
            BrokerUrls::parse(&format!("{},{}", through(&first), through(&second))).unwrap()
    })
    .await;
    let readyz = || async {
        let response = app.http.get(app.url("/readyz")).send().await.ok()?;
        Some(response.status().as_u16())
    };
    first.cut();
    eventually(
        "ready on the second node",
        Duration::from_secs(5),
        || async { (app.post_json(&session("on-second")).await.0 == 202).then_some(()) },
    )
    .await;
    assert_eq!(readyz().await, Some(200));
    second.cut();
    eventually("not ready", Duration::from_secs(5), || async {
        (readyz().await == Some(503)).then_some(())
    })
    .await;
    first.restore();
    eventually(
        "ready again on the first node",
        Duration::from_secs(10),
        || async { (readyz().await == Some(200)).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn binaries_refuse_an_empty_or_unparsable_broker_list() {
    let app = TestApp::front_only().await;
    for (urls, expected) in [
        (" , ", "broker.url is empty"),
        (
            "amqp://intake:hunter2@127.0.0.1/intake,hunter2@nowhere",
            "broker.url entry 2",
        ),
    ] {
        for name in ["intake-front", "intake-consumer"] {
            let output = binary(name, &app)
                .env("AMQP_URL", urls)
                .output()
                .await
                .unwrap();
            assert!(!output.status.success(), "{name} started with {urls:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains(expected), "{name}: {stderr}");
            assert!(
                !stderr.contains("hunter2"),
                "{name} printed a password: {stderr}"
            );
        }
    }
}
