//! Read-your-write: `?wait=stored` answers `200` with what is stored once the consumer
//! committed the write, and the usual `202` when that takes too long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{TestApp, read};
use reqwest::Method;
use serde_json::{Value, json};

fn seed(uuid: &str) -> Value {
    json!({"session": {"uuid": uuid, "unit_id": "unit-1", "data": {"keep": "kept"}}})
}

#[tokio::test]
async fn wait_stored_answers_with_what_is_stored() {
    let app = TestApp::spawn().await;
    let response = app.post_json_wait_stored(&seed("rw")).await;
    assert!(response.headers().contains_key("x-upload-id"));
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
    assert_eq!(body["result"]["data"]["keep"], "kept");
    // Stored means readable right away.
    assert_eq!(app.get_json(&app.project_path("/sessions/rw")).await.0, 200);

    let path = app.project_path("/sessions/rw?wait=stored");
    let update = json!({"session": {"data": {"keep": "changed"}}});
    let (status, body) = app.send_json(Method::PUT, &path, Some(update)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["data"]["keep"], "changed");
    let (status, body) = app.send_json(Method::DELETE, &path, None).await;
    assert_eq!(
        (status, body["result"]["is_deleted"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}

#[tokio::test]
async fn wait_stored_falls_back_to_202_when_nothing_consumes() {
    let app = TestApp::front_with(|c| c.front.wait_stored_ms = 300).await;
    let started = std::time::Instant::now();
    let (status, body) = read(app.post_json_wait_stored(&seed("slow")).await).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
