//! `intake dlq` under concurrency: operators listing while another requeues each see every
//! dead letter that exists, and a dead letter the broker delivers twice is recorded once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::tools_dlq::{create_project_with_id, upload};

use std::collections::BTreeSet;
use std::time::Duration;

use common::{TestApp, eventually};
use intake::broker::{self, DEAD_LETTER_ID_HEADER};
use intake::config::Config;
use intake::wire::Upload;
use intake_tools::dlq::{self, Filter};
use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};

/// Messages waiting in the dead-letter queue itself (not yet collected).
async fn queued(config: &Config) -> u32 {
    let (conn, channel) = common::raw_channel(config).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare(
            config.broker.dead_letter_queue.as_str().into(),
            passive,
            FieldTable::default(),
        )
        .await
        .unwrap();
    conn.close(200, "done".into()).await.unwrap();
    queue.message_count()
}

fn upload_ids(uploads: &[Upload]) -> BTreeSet<String> {
    uploads
        .iter()
        .map(|u| u.stamp.upload_id.to_string())
        .collect()
}

/// Lists `times` times; each listing as its upload ids, checked for repeats.
async fn walk(config: Config, times: usize) -> Vec<BTreeSet<String>> {
    let mut listings = Vec::new();
    for _ in 0..times {
        let entries = dlq::list(&config, 1000).await.unwrap();
        let ids: BTreeSet<String> = entries.iter().filter_map(|e| e.upload_id.clone()).collect();
        assert_eq!(ids.len(), entries.len(), "a dead letter listed twice");
        listings.push(ids);
    }
    listings
}

#[tokio::test]
async fn two_walkers_list_every_dead_letter_while_a_third_requeues() {
    let app = TestApp::spawn().await;
    let late = app.project_id + 100;
    let never = app.project_id + 200;
    let waiting: Vec<Upload> = (0..20)
        .map(|i| upload(late, &format!("late-{i}")))
        .collect();
    let orphans: Vec<Upload> = (0..20)
        .map(|i| upload(never, &format!("orphan-{i}")))
        .collect();
    let all: Vec<&Upload> = waiting.iter().chain(&orphans).collect();
    common::publish_uploads(&app, &all).await;
    // Still in the queue when the walkers start: their first collects race each other.
    eventually("dead-lettered", Duration::from_secs(30), || async {
        (queued(&app.config).await == 40).then_some(())
    })
    .await;
    create_project_with_id(&app, late);

    let by_project = Filter {
        project_id: Some(late),
        ..Filter::default()
    };
    let (first, second, requeued) = tokio::join!(
        walk(app.config.clone(), 6),
        walk(app.config.clone(), 6),
        dlq::requeue(&app.config, &by_project, false),
    );
    let requeued = requeued.unwrap();
    assert_eq!((requeued.matched, requeued.done), (20, 20), "{requeued}");

    let orphan_ids = upload_ids(&orphans);
    let everything = upload_ids(&waiting).union(&orphan_ids).cloned().collect();
    for listing in first.iter().chain(&second) {
        assert!(listing.is_superset(&orphan_ids), "{listing:?}");
        assert!(listing.is_subset(&everything), "{listing:?}");
    }
    eventually(
        "requeued uploads stored",
        Duration::from_secs(30),
        || async { (common::count(&app.db.url, "sessions") == 20).then_some(()) },
    )
    .await;
    assert_eq!(walk(app.config.clone(), 1).await[0], orphan_ids);
}

#[tokio::test]
async fn a_dead_letter_delivered_twice_is_recorded_once() {
    let app = TestApp::spawn().await;
    let (conn, channel) = common::raw_channel(&app.config).await;
    let marked = upload(app.project_id + 100, "marked");
    let unmarked = upload(app.project_id + 100, "unmarked");
    let mut properties = broker::upload_properties(&marked);
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(
        DEAD_LETTER_ID_HEADER.into(),
        AMQPValue::LongString("dead-letter-1".into()),
    );
    properties = properties.with_headers(headers);
    // As after a collect that stored them but died before its ack.
    for _ in 0..2 {
        for (body, properties) in [
            (marked.encode(), properties.clone()),
            (unmarked.encode(), broker::upload_properties(&unmarked)),
        ] {
            broker::publish_confirmed(
                &channel,
                &app.config.broker.dead_letter_exchange,
                "",
                &body,
                properties,
            )
            .await
            .unwrap();
        }
    }
    conn.close(200, "done".into()).await.unwrap();

    let entries = dlq::list(&app.config, 100).await.unwrap();
    let uuids: Vec<_> = entries.iter().filter_map(|e| e.uuid.as_deref()).collect();
    assert_eq!(uuids, ["marked", "unmarked"]);
    assert_eq!(common::count(&app.db.url, "dead_letters"), 2);
    assert_eq!(queued(&app.config).await, 0);
}
