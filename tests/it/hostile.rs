//! Hostile and malformed requests: each gets the right 4xx (JSON where the front decides it)
//! within a bounded time, and the front keeps serving well-formed uploads afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

mod connections;
mod inputs;
mod raw;
mod stamps;

use std::time::Duration;

use common::TestApp;
use raw::{assert_json_4xx, exchange, post, post_head};
use tokio::net::TcpStream;

#[tokio::test]
async fn malformed_bodies_get_json_4xx() {
    let app = TestApp::front_only().await;
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    let multipart = "multipart/form-data; boundary=b0undary";
    let many_points: String = (0..10_000)
        .map(|i| format!("&session[data][p{i}]=x"))
        .collect();
    let nested: String = format!("session[unit_id]=u&session{}=x", "[data]".repeat(2_000));
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "truncated multipart",
            multipart,
            b"--b0undary\r\nContent-Disposition: form-data; name=\"session[unit_id]\"\r\n\r\nu"
                .to_vec(),
            400,
        ),
        (
            "wrong boundary",
            multipart,
            b"--other\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--other--\r\n"
                .to_vec(),
            400,
        ),
        (
            "multipart without boundary",
            "multipart/form-data",
            b"x".to_vec(),
            400,
        ),
        ("deeply nested brackets", form, nested.into_bytes(), 400),
        (
            "invalid UTF-8 in a form value",
            form,
            b"session[unit_id]=%FF%FE".to_vec(),
            400,
        ),
        (
            "invalid UTF-8 in JSON",
            json,
            b"{\"session\": {\"unit_id\": \"\xff\"}}".to_vec(),
            400,
        ),
        (
            "NUL in a value",
            json,
            br#"{"session": {"unit_id": "u", "data": {"p": "a\u0000b"}}}"#.to_vec(),
            400,
        ),
        (
            "NUL in a form name",
            form,
            b"session[unit_id]=u&session[data][a%00b]=1".to_vec(),
            400,
        ),
        (
            "time overflow",
            form,
            b"session[unit_id]=u&session[created]=99999999999999999999999".to_vec(),
            400,
        ),
        (
            "negative time",
            json,
            br#"{"session": {"unit_id": "u", "saved": -1}}"#.to_vec(),
            400,
        ),
        (
            "10,000 points",
            form,
            format!("session[unit_id]=u{many_points}").into_bytes(),
            400,
        ),
        (
            "JSON nested 100,000 deep",
            json,
            "[".repeat(100_000).into_bytes(),
            400,
        ),
        ("not JSON at all", json, b"\x00\x01\x02".to_vec(), 400),
        (
            "bogus content type",
            "application/x-evil",
            b"x".to_vec(),
            415,
        ),
        ("garbage content type", "@@@", b"x".to_vec(), 415),
    ];
    for (what, content_type, body, status) in cases {
        let raw = post(&app, content_type, &body).await;
        assert_json_4xx(&raw, status, what);
        assert!(
            raw.took < Duration::from_secs(5),
            "{what} took {:?}",
            raw.took
        );
    }
    let (status, _) = app
        .post_json(&serde_json::json!({"session": {"unit_id": "still-up"}}))
        .await;
    assert_eq!(
        status, 202,
        "the front still accepts after the hostile corpus"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_and_while_reading() {
    let app = TestApp::front_with(|config| config.front.body_limit_bytes = 64 * 1024).await;
    let declared = post_head(
        &app,
        "application/json",
        "Content-Length: 1000000000\r\nConnection: close\r\n\r\n",
    );
    let raw = exchange(&app, &declared, b"{", None).await;
    assert_json_4xx(&raw, 413, "declared too large");

    let chunked_head = post_head(
        &app,
        "application/json",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    let mut chunks = Vec::new();
    for _ in 0..40 {
        chunks.extend_from_slice(format!("{:x}\r\n", 4096).as_bytes());
        chunks.extend_from_slice(&[b' '; 4096]);
        chunks.extend_from_slice(b"\r\n");
    }
    let raw = exchange(&app, &chunked_head, &chunks, None).await;
    assert_json_4xx(&raw, 413, "chunked past the limit");

    let multipart_head = post_head(
        &app,
        "multipart/form-data; boundary=zz",
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
    );
    let mut body = b"--zz\r\nContent-Disposition: form-data; name=\"session[data][f]\"; filename=\"f\"\r\n\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'x', 200_000));
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(&body);
    chunked.extend_from_slice(b"\r\n");
    let raw = exchange(&app, &multipart_head, &chunked, None).await;
    assert_json_4xx(&raw, 413, "multipart past the limit");
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let app = TestApp::front_only().await;
    // Headers that never finish: the connection is closed after the header timeout (1 s).
    let partial = format!(
        "POST /api/v1/projects/{}/sessions HTTP/1.1\r\nHost: test\r\nX-Slow: ",
        app.project_id
    );
    let raw = exchange(&app, &partial, b"", None).await;
    assert!(
        raw.took < Duration::from_secs(5),
        "slow headers held {:?}",
        raw.took
    );
    assert!(raw.status == 0 || raw.status == 408, "got {}", raw.status);

    // A body that never ends: 408 after the body timeout (2 s).
    let head = post_head(&app, "application/json", "Content-Length: 5000\r\n\r\n");
    let raw = exchange(&app, &head, b"{\"session\":", None).await;
    assert_json_4xx(&raw, 408, "endless body");
    assert!(
        raw.took < Duration::from_secs(6),
        "endless body held {:?}",
        raw.took
    );
}

#[tokio::test]
async fn huge_headers_are_refused() {
    let app = TestApp::front_only().await;
    let huge = format!("X-Junk: {}\r\n", "a".repeat(200_000));
    let head = post_head(
        &app,
        "application/json",
        &format!("{huge}Content-Length: 2\r\nConnection: close\r\n\r\n"),
    );
    let raw = exchange(&app, &head, b"{}", None).await;
    assert!(
        raw.status == 431 || raw.status == 400 || raw.status == 0,
        "got {}",
        raw.status
    );
    let (status, _) = app
        .post_json(&serde_json::json!({"session": {"unit_id": "still-up"}}))
        .await;
    assert_eq!(status, 202);
}

#[tokio::test]
async fn the_connection_limit_holds_extra_clients_back() {
    let app = TestApp::front_with(|config| config.front.max_connections = 4).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(app.address).await.unwrap());
    }
    // The fifth connection is queued by the kernel, not served, until one closes.
    let url = app.url("/healthz");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    assert!(
        client.get(&url).send().await.is_err(),
        "a fifth connection was served"
    );
    idle.pop();
    // The header timeout (1 s) also frees the idle ones.
    let response = tokio::time::timeout(Duration::from_secs(5), reqwest::get(&url)).await;
    assert!(
        matches!(response, Ok(Ok(ref r)) if r.status() == 200),
        "{response:?}"
    );
}
