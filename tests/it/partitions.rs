//! Partitioned queues against the real broker: routing by (project, uuid), consumers owning
//! a share of the partitions, 1 → 3 partitions while uploads keep coming, and a front and a
//! consumer that disagree with the broker about the partition count.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, eventually, read, spawn_consumer};
use intake::broker::partition::{partition_of, queue_name};
use intake::config::Config;
use lapin::options::BasicGetOptions;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn session(uuid: &str, version: u32) -> serde_json::Value {
    json!({"session": {"uuid": uuid, "unit_id": "field-unit", "data": {"v": version.to_string()}}})
}

/// Another front on the test's database and topology, with its own configuration.
struct OtherFront {
    address: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl OtherFront {
    async fn start(config: Config) -> Self {
        let front = intake::front::Front::build(config).await.unwrap();
        let address = front.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(front.run(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            _stop: stop,
        }
    }
}

async fn post_to(app: &TestApp, address: SocketAddr, body: &serde_json::Value) -> u16 {
    let url = format!(
        "http://{address}/api/v1/projects/{}/sessions",
        app.project_id
    );
    read(
        app.signed(app.http.post(url))
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
    .0
}

fn with_partitions(app: &TestApp, partitions: u16) -> Config {
    let mut config = app.config.clone();
    config.broker.partitions = partitions;
    config
}

/// Takes every message off one queue: the uuids it held.
async fn drain(channel: &lapin::Channel, queue: &str) -> Vec<String> {
    let mut uuids = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let upload =
            intake::wire::Upload::decode(&message.delivery.data, &Default::default()).unwrap();
        uuids.push(upload.uuid().as_str().to_owned());
    }
    uuids
}

#[tokio::test]
async fn every_write_to_one_session_goes_through_the_one_queue_its_hash_names() {
    let app = TestApp::front_only().await;
    let config = with_partitions(&app, 3);
    let (conn, channel) = common::raw_channel(&config).await;
    let front = OtherFront::start(config.clone()).await;
    for version in 0..3 {
        for i in 0..30 {
            let status = post_to(&app, front.address, &session(&format!("s-{i}"), version)).await;
            assert_eq!(status, 202);
        }
    }
    let mut seen: HashMap<String, HashSet<u16>> = HashMap::new();
    for partition in 0..3 {
        let uuids = drain(&channel, &queue_name(&config.broker, partition)).await;
        assert!(!uuids.is_empty(), "partition {partition} got nothing");
        for uuid in uuids {
            assert_eq!(partition_of(app.project_id, &uuid, 3), partition, "{uuid}");
            seen.entry(uuid).or_default().insert(partition);
        }
    }
    assert_eq!(seen.len(), 30);
    assert!(seen.values().all(|queues| queues.len() == 1));
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn consumers_read_only_their_partitions_and_together_all() {
    let mut app = TestApp::front_only().await;
    let config = with_partitions(&app, 3);
    let (conn, _channel) = common::raw_channel(&config).await;
    let front = OtherFront::start(config.clone()).await;
    let uuids: Vec<String> = (0..30).map(|i| format!("u-{i}")).collect();
    for uuid in &uuids {
        assert_eq!(post_to(&app, front.address, &session(uuid, 1)).await, 202);
    }
    app.start_consumer_with(|c| {
        c.broker.partitions = 3;
        c.consumer.partitions = "0,2".into();
    });
    let of = |uuid: &String| partition_of(app.project_id, uuid, 3);
    for uuid in uuids.iter().filter(|u| of(u) != 1) {
        app.stored(uuid).await;
    }
    let skipped: Vec<&String> = uuids.iter().filter(|u| of(u) == 1).collect();
    assert!(!skipped.is_empty());
    for uuid in &skipped {
        assert!(
            app.stored_now(uuid).await.is_none(),
            "{uuid} is partition 1's"
        );
    }
    app.start_consumer_with(|c| {
        c.broker.partitions = 3;
        c.consumer.partitions = "1".into();
    });
    for uuid in skipped {
        app.stored(uuid).await;
    }
    app.stop_consumers().await;
    conn.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn one_to_three_partitions_while_uploads_keep_coming_loses_nothing() {
    let app = Arc::new(TestApp::front_only().await);
    // Consumers the test runs itself: the clients share the app, so it cannot start them.
    let one = spawn_consumer(app.config.clone());
    let three = Arc::new(tokio::sync::OnceCell::<OtherFront>::new());
    let stop = CancellationToken::new();
    let mut clients = Vec::new();
    for client in 0..4 {
        let (app, three, stop) = (Arc::clone(&app), Arc::clone(&three), stop.clone());
        clients.push(tokio::spawn(async move {
            // Each client owns its sessions, so its last 202 is their last accepted version.
            let mut accepted: HashMap<String, u32> = HashMap::new();
            let mut version = 0;
            while !stop.is_cancelled() {
                version += 1;
                for i in 0..5 {
                    let uuid = format!("c{client}-{i}");
                    let body = session(&uuid, version);
                    // While the fronts roll, a session's writes go through both kinds.
                    let status = match three.get() {
                        Some(front) if version % 2 == 0 => {
                            post_to(&app, front.address, &body).await
                        }
                        _ => app.post_json(&body).await.0,
                    };
                    if status == 202 {
                        accepted.insert(uuid, version);
                    }
                }
            }
            accepted
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The procedure: consumers first (they declare the new queues and read all three), then
    // the fronts.
    let wide = spawn_consumer(with_partitions(&app, 3));
    tokio::time::sleep(Duration::from_millis(300)).await;
    one.0.cancel();
    one.1.await.unwrap();
    let front = OtherFront::start(with_partitions(&app, 3)).await;
    eventually(
        "the 3-partition front ready",
        Duration::from_secs(10),
        || async {
            let url = format!("http://{}/readyz", front.address);
            let response = app.http.get(url).send().await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
    assert!(three.set(front).is_ok());
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.cancel();
    let mut accepted = HashMap::new();
    for client in clients {
        accepted.extend(client.await.unwrap());
    }
    assert_eq!(accepted.len(), 20);
    for (uuid, version) in &accepted {
        let want = json!({"v": version.to_string()});
        eventually(
            &format!("{uuid} at version {version}"),
            Duration::from_secs(20),
            || {
                let want = want.clone();
                let app = Arc::clone(&app);
                let uuid = uuid.clone();
                async move {
                    let stored = app.stored_now(&uuid).await?;
                    (stored.points == want).then_some(())
                }
            },
        )
        .await;
    }
    wide.0.cancel();
    wide.1.await.unwrap();
}

#[tokio::test]
async fn a_front_waits_for_the_consumers_partitions_and_a_narrower_consumer_refuses() {
    let app = TestApp::front_only().await;
    let front = OtherFront::start(with_partitions(&app, 3)).await;
    let body = session("early", 1);
    assert_eq!(post_to(&app, front.address, &body).await, 503);
    let readyz = format!("http://{}/readyz", front.address);
    let status = app.http.get(&readyz).send().await.unwrap().status();
    assert_eq!(status, 503, "ready before the partitions exist");

    let wide = spawn_consumer(with_partitions(&app, 3));
    eventually(
        "ready once the consumer declared them",
        Duration::from_secs(15),
        || async {
            let response = app.http.get(&readyz).send().await.ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
    assert_eq!(post_to(&app, front.address, &body).await, 202);

    // A consumer still configured for one partition would leave two queues unread.
    let refused = intake::consumer::run(app.config.clone(), CancellationToken::new());
    let error = tokio::time::timeout(Duration::from_secs(10), refused)
        .await
        .expect("refuses at once")
        .unwrap_err();
    assert!(error.to_string().contains(".p1"), "{error}");
    wide.0.cancel();
    wide.1.await.unwrap();
}
