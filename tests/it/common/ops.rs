//! Helpers for tests that publish writes of every kind straight to the queue with chosen
//! acceptance stamps, and read the outcome back through the API.

use std::time::Duration;

use intake::ordering::Stamp;
use intake::session::patch::Patch;
use intake::session::write::Write;
use intake::session::{FileAttachment, SessionUuid};
use intake::wire::Upload;
use serde_json::{Value, json};

use super::{TestApp, eventually};

/// A write of `uuid` accepted at `base + at` microseconds.
pub struct Clock {
    pub project_id: i64,
    pub base: i64,
}

impl Clock {
    pub fn at(&self, at: i64, write: Write) -> Upload {
        let stamp = Stamp {
            upload_id: uuid::Uuid::now_v7(),
            received_micros: self.base + at,
            received_from: "replayer".into(),
        };
        Upload::write(self.project_id, stamp, write)
    }
}

pub fn uuid(text: &str) -> SessionUuid {
    SessionUuid::parse(text).unwrap()
}

pub fn create(id: &str, unit: &str, points: Value) -> Write {
    Write::Create(
        serde_json::from_value(json!({
            "uuid": id, "unit_id": unit, "created": 100, "saved": 200, "points": points,
        }))
        .unwrap(),
    )
}

pub fn update(id: &str, points: Value) -> Write {
    let patch: Patch = serde_json::from_value(json!({
        "uuid": id, "unit_id": null, "created": null, "saved": 300, "points": points,
    }))
    .unwrap();
    Write::Update(patch)
}

pub fn file(bytes: &[u8]) -> FileAttachment {
    FileAttachment {
        filename: Some("f.bin".into()),
        content_type: "application/x-test".into(),
        bytes: bytes.to_vec(),
        md5: None,
    }
}

pub async fn publish(app: &TestApp, uploads: &[&Upload]) {
    super::publish_uploads(app, uploads).await;
}

/// The session as a read shows it (deleted ones too), once `done` holds.
pub async fn read_when(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = app.project_path(&format!("/sessions/{id}?deleted=true"));
    eventually("expected state", Duration::from_secs(60), || async {
        let (status, body) = app.get_json(&path).await;
        (status == 200 && done(&body["result"])).then(|| body["result"].clone())
    })
    .await
}

/// Lets every message published so far be decided: stops the consumers (finishing their
/// batches), then one consumer takes the rest in queue order up to a fresh marker.
pub async fn settle(app: &mut TestApp, clock: &Clock) {
    app.stop_consumers().await;
    app.start_consumer();
    let marker_id = format!("marker-{}", uuid::Uuid::new_v4().simple());
    let marker = clock.at(0, create(&marker_id, "m", json!({})));
    publish(app, &[&marker]).await;
    read_when(app, &marker_id, |_| true).await;
}

pub fn placeholders(app: &TestApp, id: &str) -> i64 {
    super::count(
        &app.db.url,
        &format!("sessions WHERE placeholder AND uuid = '{id}'"),
    )
}
