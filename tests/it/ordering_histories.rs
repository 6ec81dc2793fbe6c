//! Random histories of every kind of write, published shuffled and twice, consumed by two
//! competing consumers with small batches, end exactly as a literal sequential model of the
//! contract says (and stay so once every message is decided).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::ops::{Clock, create, file, publish, settle, update, uuid};
use common::{TestApp, eventually};
use intake::session::write::Write;
use intake::session::{PointName, PointValue};
use md5::{Digest as _, Md5};
use serde_json::{Value, json};

/// The contract, literally: the session after applying `writes` one by one in acceptance
/// order, as a read shows it (`None` if it never existed).
type Expected = (String, i64, bool, BTreeMap<String, Value>);

fn expected(writes: &[(i64, Write)]) -> Option<Expected> {
    let mut sorted: Vec<&(i64, Write)> = writes.iter().collect();
    sorted.sort_by_key(|(at, _)| *at);
    let view = |value: &PointValue| match value {
        PointValue::Text(text) => json!(text),
        PointValue::Raw(bytes) => json!({"rawData": intake::session::encode_base64(bytes)}),
        PointValue::File(f) => json!({"filename": f.filename, "content_type": f.content_type,
            "length": f.bytes.len(), "md5": hex::encode(Md5::digest(&f.bytes))}),
    };
    let mut state: Option<Expected> = None;
    for (_, write) in sorted {
        match (write, state.as_mut()) {
            (Write::Create(s), _) => {
                let points = s
                    .points
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), view(v)))
                    .collect();
                state = Some((s.unit_id.as_str().to_owned(), s.saved, false, points));
            }
            (_, None) => {}
            (Write::Update(p), Some(st)) => {
                st.1 = p.saved;
                for (n, v) in &p.points {
                    st.3.insert(n.as_str().to_owned(), view(v));
                }
            }
            (Write::Delete { .. }, Some(st)) => st.2 = true,
            (Write::PutAttachment { point, file, .. }, Some(st)) => {
                st.3.insert(
                    point.as_str().to_owned(),
                    view(&PointValue::File(file.clone())),
                );
            }
            (Write::DeleteAttachment { point, .. }, Some(st)) => {
                st.3.remove(point.as_str());
            }
        }
    }
    state
}

fn matches(want: &Option<Expected>, status: u16, got: &Value) -> bool {
    match want {
        None => status == 404,
        Some((unit, saved, deleted, points)) => {
            status == 200
                && got["unit_id"] == unit.as_str()
                && got["saved_timestamp"] == *saved
                && got["is_deleted"] == *deleted
                && got["data"] == json!(points)
        }
    }
}

/// The sessions that do not read as expected, described.
async fn mismatches(
    app: &TestApp,
    ids: &[String],
    expectations: &[Option<Expected>],
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (id, want) in ids.iter().zip(expectations) {
        let path = app.project_path(&format!("/sessions/{id}?deleted=true"));
        let (status, body) = app.get_json(&path).await;
        if !matches(want, status, &body["result"]) {
            wrong.push(format!("{id}: want {want:?}, got {status} {body}"));
        }
    }
    wrong
}

/// A deterministic pseudo-random history of writes to one session.
fn history(id: &str, seed: u64) -> Vec<(i64, Write)> {
    let mut rng = seed;
    let mut next = |n: u64| {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (rng >> 33) % n
    };
    let point = |i: u64| ["a", "b", "c"][usize::try_from(i).unwrap()];
    let mut writes = Vec::new();
    for at in 1..=8 {
        let p = point(next(3));
        let tag = u8::try_from(next(200)).unwrap();
        let write = match next(6) {
            0 | 1 => create(
                id,
                &format!("u{at}"),
                json!({p: {"Text": format!("t{tag}")}, "z": {"Raw": [tag]}}),
            ),
            2 => update(id, json!({p: {"File": file(&[tag, 1])}})),
            3 => Write::Delete { uuid: uuid(id) },
            4 => Write::PutAttachment {
                uuid: uuid(id),
                point: PointName::parse(p).unwrap(),
                file: file(&[tag]),
            },
            _ => Write::DeleteAttachment {
                uuid: uuid(id),
                point: PointName::parse(p).unwrap(),
            },
        };
        writes.push((at, write));
    }
    writes
}

#[tokio::test]
async fn shuffled_duplicated_histories_with_two_consumers_end_in_acceptance_order() {
    let mut app = TestApp::front_only().await;
    let clock = Clock {
        project_id: app.project_id,
        base: chrono::Utc::now().timestamp_micros(),
    };
    let ids: Vec<String> = (0..30).map(|i| format!("h-{i}")).collect();
    let mut messages = Vec::new();
    let mut expectations = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let writes = history(id, 1_000 + i as u64);
        expectations.push(expected(&writes));
        for (at, write) in writes {
            let upload = clock.at(at, write);
            messages.push(upload.clone());
            messages.push(upload);
        }
    }
    let mut seed = 42u64;
    for i in (1..messages.len()).rev() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        messages.swap(i, (seed >> 33) as usize % (i + 1));
    }
    publish(&app, &messages.iter().collect::<Vec<_>>()).await;
    app.start_consumer_with(|c| c.consumer.batch_size = 7);
    app.start_consumer_with(|c| c.consumer.batch_size = 11);
    eventually(
        "every history converged",
        Duration::from_secs(90),
        || async {
            mismatches(&app, &ids, &expectations)
                .await
                .is_empty()
                .then_some(())
        },
    )
    .await;
    settle(&mut app, &clock).await;
    let wrong = mismatches(&app, &ids, &expectations).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(
        expectations.iter().any(Option::is_none),
        "some histories never create"
    );
    assert!(
        expectations.iter().any(|e| e.as_ref().is_some_and(|e| e.2)),
        "some end deleted"
    );
}
