//! The export route streams page by page: a client that goes away mid-export stops it. The
//! front's metrics show the stream gone and no page served after it, and PostgreSQL shows no
//! query still running for it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{TestApp, eventually};
use diesel::prelude::*;
use reqwest::Method;

/// Sessions in the project, and the text each carries: 5,000 × 10 KB is about 25 pages of
/// 2 MB, far more than the sockets between client and front buffer.
const SESSIONS: i64 = 5_000;
const PAGES: u64 = 25;

/// A metric's value from the front's `/metrics`, 0 when it was never recorded.
async fn metric(app: &TestApp, name: &str) -> f64 {
    app.metric(name).await.unwrap_or(0.0)
}

/// Queries other than this one running in the test's database.
fn active_queries(url: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Active {
        #[diesel(sql_type = diesel::sql_types::Text)]
        query: String,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND state = 'active'",
    )
    .load::<Active>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|active| active.query)
    .collect()
}

#[tokio::test]
async fn a_client_that_disconnects_stops_the_export() {
    let app = TestApp::spawn().await;
    // Set-based, not through the pipeline: the stream is under test, not the writes.
    app.execute(&format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, \
         received_from, upload_id, points) \
         SELECT {}, 'bulk-' || g, 'unit', now(), now(), now() - g * interval '1 ms', 'test', \
         gen_random_uuid(), jsonb_build_object('note', repeat('x', 10000)) \
         FROM generate_series(1, {SESSIONS}) g",
        app.project_id
    ));
    let path = app.project_path("/sessions/export");
    let mut response = app.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    assert_eq!(metric(&app, "intake_exports_in_progress").await, 1.0);
    drop(response);

    eventually(
        "the export stream dropped",
        Duration::from_secs(20),
        || async { (metric(&app, "intake_exports_in_progress").await == 0.0).then_some(()) },
    )
    .await;
    let served = metric(&app, "intake_export_pages_total").await;
    assert!(
        served < (PAGES / 2) as f64,
        "{served} pages of {PAGES} served to a client that read one chunk"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        metric(&app, "intake_export_pages_total").await,
        served,
        "no page after the client left"
    );
    let url = app.db.url.clone();
    let running = tokio::task::spawn_blocking(move || active_queries(&url))
        .await
        .unwrap();
    assert!(
        running.iter().all(|query| !query.contains("sessions")),
        "{running:?}"
    );

    // A client that reads to the end gets every session, and the stream ends.
    let body = app.get_text(&path).await;
    assert_eq!(body.lines().count(), usize::try_from(SESSIONS).unwrap());
    eventually(
        "the finished stream dropped",
        Duration::from_secs(20),
        || async { (metric(&app, "intake_exports_in_progress").await == 0.0).then_some(()) },
    )
    .await;
}
