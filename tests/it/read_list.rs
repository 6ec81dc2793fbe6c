//! The list route: newest received first, filters, and cursor pages that neither skip nor
//! repeat a row while new sessions arrive; and the plans of its queries on a large table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::HashSet;

use common::TestApp;
use intake::store::explain::explain_list;
use intake::store::read::{ListFilter, Position};
use serde_json::{Value, json};

fn uuids(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["uuid"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(app: &TestApp, uuid: &str, unit: &str) {
    app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": unit}}))
        .await;
}

#[tokio::test]
async fn newest_received_first_with_filters() {
    let app = TestApp::spawn().await;
    for (uuid, unit) in [
        ("s1", "a"),
        ("s2", "b"),
        ("s3", "a"),
        ("s4", "b"),
        ("s5", "a"),
    ] {
        create(&app, uuid, unit).await;
    }
    // Spread the receive times over known seconds.
    app.execute(
        "UPDATE sessions SET received = to_timestamp(1700000000 + 100 * substr(uuid, 2)::int)",
    );
    let app = &app;
    let list = |query: &str| {
        let path = app.project_path(&format!("/sessions{query}"));
        async move { app.get_json(&path).await }
    };
    let (status, body) = list("").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(uuids(&body), ["s5", "s4", "s3", "s2", "s1"]);
    assert!(body.get("next_cursor").is_none(), "one page only: {body}");
    assert_eq!(body["result"][0]["received_timestamp"], 1_700_000_500);

    assert_eq!(uuids(&list("?unit_id=a").await.1), ["s5", "s3", "s1"]);
    assert_eq!(
        uuids(&list("?since=1700000200").await.1),
        ["s5", "s4", "s3", "s2"]
    );
    assert_eq!(
        uuids(&list("?until=1700000300").await.1),
        ["s3", "s2", "s1"]
    );
    let window = list("?since=1700000200&until=1700000400&unit_id=b").await.1;
    assert_eq!(uuids(&window), ["s4", "s2"]);

    app.execute("UPDATE sessions SET is_deleted = true WHERE uuid = 's4'");
    assert_eq!(uuids(&list("").await.1), ["s5", "s3", "s2", "s1"]);
    assert_eq!(
        uuids(&list("?deleted=true").await.1),
        ["s5", "s4", "s3", "s2", "s1"]
    );
    let (status, body) = list("?unit_id=nobody").await;
    assert_eq!((status, body["result"].clone()), (200, json!([])));
}

#[tokio::test]
async fn pages_neither_skip_nor_repeat_while_sessions_arrive() {
    let app = TestApp::spawn().await;
    let mut originals = Vec::new();
    for i in 0..23 {
        let uuid = format!("old-{i}");
        create(&app, &uuid, "pager").await;
        originals.push(uuid);
    }
    // Ties on the receive time must be broken the same way on every page.
    app.execute("UPDATE sessions SET received = '2020-01-01T00:00:00Z' WHERE uuid LIKE 'old-1%'");

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("/sessions?limit=5&cursor={cursor}"),
            None => "/sessions?limit=5".to_owned(),
        };
        let (status, body) = app.get_json(&app.project_path(&query)).await;
        assert_eq!(status, 200, "{body}");
        let page = uuids(&body);
        assert!(page.len() <= 5);
        seen.extend(page);
        pages += 1;
        // New sessions arrive between pages.
        for j in 0..2 {
            create(&app, &format!("new-{pages}-{j}"), "pager").await;
        }
        match body.get("next_cursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated: {seen:?}");
    for uuid in &originals {
        assert!(unique.contains(uuid), "{uuid} was skipped: {seen:?}");
    }
    assert_eq!(pages, 5, "23 rows in pages of 5");
    assert!(
        seen.iter().all(|uuid| uuid.starts_with("old-")),
        "sessions newer than the first page are not part of this walk: {seen:?}"
    );
}

/// The list queries on ~100k rows: every filter combination is an index scan that stops
/// after one page; no sequential scan, no sort of the whole project.
#[tokio::test]
async fn list_queries_are_index_scans_on_a_large_table() {
    let app = TestApp::front_only().await;
    app.execute(&format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                               upload_id, is_deleted, points)
         SELECT {}, 'gen-' || n, 'unit-' || (n % 500), now(), now(),
                now() - n * interval '1 second', 'gen', gen_random_uuid(), n % 50 = 0, '{{}}'
         FROM generate_series(1, 100000) AS n",
        app.project_id
    ));
    app.execute("ANALYZE sessions");
    let after = Some(Position {
        received_micros: chrono::Utc::now().timestamp_micros() - 50_000_000_000,
        id: 50_000,
    });
    let now = chrono::Utc::now().timestamp();
    let filters = [
        ("newest page", ListFilter::default(), None),
        ("next page", ListFilter::default(), after),
        (
            "one device",
            ListFilter {
                unit_id: Some("unit-7".into()),
                ..ListFilter::default()
            },
            after,
        ),
        (
            "time window",
            ListFilter {
                since: Some(now - 80_000),
                until: Some(now - 20_000),
                ..ListFilter::default()
            },
            None,
        ),
        (
            "deleted too",
            ListFilter {
                include_deleted: true,
                ..ListFilter::default()
            },
            after,
        ),
    ];
    let mut report = String::new();
    let mut conn = app.db.store().conn().unwrap();
    for (name, filter, after) in filters {
        let plan = explain_list(&mut conn, app.project_id, &filter, after, 100).unwrap();
        let plan = plan.join("\n");
        report.push_str(&format!("-- {name}\n{plan}\n\n"));
        assert!(plan.contains("Index Scan"), "{name}:\n{plan}");
        // Sessions (or their partition) by index; the page's size bound may read an empty
        // attachments partition whole, which the planner rightly prefers.
        assert!(!plan.contains("Seq Scan on sessions"), "{name}:\n{plan}");
        assert!(!plan.contains("Sort"), "{name}:\n{plan}");
    }
    println!("{report}");
}
