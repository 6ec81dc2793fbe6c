//! Raw HTTP/1.1 exchanges for the hostile-input tests: requests sent byte for byte as a
//! hostile client would, and what came back.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::TestApp;

/// What a raw HTTP/1.1 exchange produced: the status (0 if the server closed without one)
/// and the body.
pub struct Raw {
    pub status: u16,
    pub body: String,
    pub took: Duration,
}

pub fn auth_headers(app: &TestApp) -> String {
    intake::auth::headers(&app.username, &app.secret, chrono::Utc::now().timestamp())
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect()
}

/// Sends `head` then `body` as is, then waits (at most 10 s) for the answer.
pub async fn exchange(
    app: &TestApp,
    head: &str,
    body: &[u8],
    pause_after: Option<Duration>,
) -> Raw {
    let started = Instant::now();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body);
    // The server may answer and close before the whole request is sent.
    let _ = stream.write_all(&request).await;
    if let Some(pause) = pause_after {
        tokio::time::sleep(pause).await;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 65_536];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    if complete(&answer) {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 10 s to {head:?}");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Raw {
        status,
        body,
        took: started.elapsed(),
    }
}

fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok());
    length.is_some_and(|length| body.len() >= length)
}

pub fn post_head(app: &TestApp, content_type: &str, extra: &str) -> String {
    format!(
        "POST /api/v1/projects/{}/sessions HTTP/1.1\r\nHost: test\r\n{}Content-Type: {content_type}\r\n{extra}",
        app.project_id,
        auth_headers(app)
    )
}

pub async fn post(app: &TestApp, content_type: &str, body: &[u8]) -> Raw {
    let head = post_head(
        app,
        content_type,
        &format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
    );
    exchange(app, &head, body, None).await
}

pub fn assert_json_4xx(raw: &Raw, status: u16, what: &str) {
    assert_eq!(raw.status, status, "{what}: {}", raw.body);
    let body: serde_json::Value = serde_json::from_str(&raw.body)
        .unwrap_or_else(|_| panic!("{what}: not JSON: {}", raw.body));
    assert!(
        body["status"].is_string() && body["message"].is_string(),
        "{what}: {body}"
    );
}
