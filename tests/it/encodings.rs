//! Property: one session sent as JSON, as urlencoded and as multipart is stored identically
//! (through the real front, RabbitMQ, consumer and PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;

use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

#[derive(Debug, Clone)]
struct Sample {
    unit_id: String,
    created: i64,
    text: BTreeMap<String, String>,
    raw: BTreeMap<String, Vec<u8>>,
}

fn sample() -> impl Strategy<Value = Sample> {
    let name = "[a-zA-Z][a-zA-Z0-9_ .-]{0,20}";
    // Text with the characters each encoding must escape: & = + % space, quotes, unicode.
    let text = "[a-zA-Z0-9 &=+%\"'<>/?#é漢\u{1F600}-]{0,40}";
    (
        "[a-z][a-z0-9-]{0,15}",
        0i64..=253_402_300_799,
        proptest::collection::btree_map(name, text, 0..6),
        proptest::collection::btree_map(
            "[a-z]{1,8}",
            proptest::collection::vec(any::<u8>(), 0..64),
            0..3,
        ),
    )
        .prop_map(|(unit_id, created, text, raw)| {
            // Names are case-insensitive: keep one spelling per lower-cased name, and keep
            // text and raw points apart.
            let mut seen = std::collections::BTreeSet::new();
            let text: BTreeMap<_, _> = text
                .into_iter()
                .filter(|(k, _)| seen.insert(k.to_lowercase()))
                .collect();
            let raw = raw
                .into_iter()
                .filter(|(k, _)| seen.insert(k.to_lowercase()))
                .collect();
            Sample {
                unit_id,
                created,
                text,
                raw,
            }
        })
}

fn base64(bytes: &[u8]) -> String {
    intake::session::encode_base64(bytes)
}

fn as_json(sample: &Sample, uuid: &str) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    for (name, value) in &sample.text {
        data.insert(name.clone(), value.clone().into());
    }
    for (name, bytes) in &sample.raw {
        data.insert(name.clone(), serde_json::json!({"rawData": base64(bytes)}));
    }
    serde_json::json!({"session": {"uuid": uuid, "unit_id": sample.unit_id,
        "created": sample.created, "saved": sample.created, "data": data}})
}

fn fields(sample: &Sample, uuid: &str) -> Vec<(String, String)> {
    let mut fields = vec![
        ("session[uuid]".to_owned(), uuid.to_owned()),
        ("session[unit_id]".to_owned(), sample.unit_id.clone()),
        ("session[created]".to_owned(), sample.created.to_string()),
        ("session[saved]".to_owned(), sample.created.to_string()),
    ];
    for (name, value) in &sample.text {
        fields.push((format!("session[data][{name}]"), value.clone()));
    }
    for (name, bytes) in &sample.raw {
        fields.push((format!("session[data][{name}][rawData]"), base64(bytes)));
    }
    fields
}

async fn post_three_ways(app: &TestApp, sample: &Sample, id: usize) -> [common::StoredSession; 3] {
    let uuids = [
        format!("json-{id}"),
        format!("form-{id}"),
        format!("multi-{id}"),
    ];
    let (status, body) = app.post_json(&as_json(sample, &uuids[0])).await;
    assert_eq!(status, 202, "{body}");
    let form = fields(sample, &uuids[1]);
    let encoded = form
        .iter()
        .map(|(k, v)| {
            let k: String = url_encode(k);
            format!("{k}={}", url_encode(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let (status, body) = app.post_form(&encoded).await;
    assert_eq!(status, 202, "{body}");
    let multipart = fields(sample, &uuids[2])
        .into_iter()
        .fold(reqwest::multipart::Form::new(), |form, (k, v)| {
            form.text(k, v)
        });
    let response = app.post_multipart(multipart).await;
    assert_eq!(response.status(), 202);
    let mut stored = Vec::new();
    for uuid in &uuids {
        stored.push(app.stored(uuid).await);
    }
    stored.try_into().unwrap()
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Everything a user would compare, minus what differs by design (the upload stamp).
fn comparable(stored: &common::StoredSession) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        &stored.unit_id,
        stored.created,
        stored.saved,
        &stored.points,
        stored.timezone_offset,
        &stored.attachments,
    )
}

#[test]
fn one_session_three_encodings_stored_identically() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut app = runtime.block_on(TestApp::front_only());
    runtime.block_on(async { app.start_consumer() });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 12,
        ..ProptestConfig::default()
    });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&sample(), |sample| {
            let id = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let [json, form, multipart] = runtime.block_on(post_three_ways(&app, &sample, id));
            prop_assert_eq!(comparable(&json), comparable(&form));
            prop_assert_eq!(comparable(&json), comparable(&multipart));
            prop_assert_eq!(json.points.as_object().unwrap().len(), sample.text.len());
            prop_assert_eq!(json.attachments.len(), sample.raw.len());
            Ok(())
        })
        .unwrap();
    runtime.block_on(app.stop_consumers());
}
