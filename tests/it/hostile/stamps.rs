//! Messages that skip the front: a receive time from the future must not freeze a session.

use std::time::Duration;

use lapin::options::BasicGetOptions;
use serde_json::json;

use crate::common::{TestApp, eventually, publish_uploads, raw_channel};

fn reason(message: &lapin::message::BasicGetMessage) -> String {
    let headers = message.delivery.properties.headers().as_ref();
    match headers.and_then(|headers| headers.inner().get("x-intake-reason")) {
        Some(lapin::types::AMQPValue::LongString(text)) => {
            String::from_utf8_lossy(text.as_bytes()).into_owned()
        }
        other => panic!("no reason header: {other:?}"),
    }
}

#[tokio::test]
async fn a_stamp_from_the_future_is_dead_lettered_and_later_writes_still_apply() {
    let app = TestApp::spawn().await;
    app.create_stored(&json!({"session": {"uuid": "target", "unit_id": "first"}}))
        .await;
    let session = serde_json::from_value(json!({
        "uuid": "target", "unit_id": "from-9999", "created": 0, "saved": 0, "points": {}
    }))
    .unwrap();
    let mut stamp = intake::ordering::Stamp::now("forger");
    stamp.received_micros = 253_402_300_000_000_000; // 9999-12-31
    let forged = intake::wire::Upload::write(
        app.project_id,
        stamp,
        intake::session::write::Write::Create(session),
    );
    publish_uploads(&app, &[&forged]).await;

    let (conn, channel) = raw_channel(&app.config).await;
    let dead = app.config.broker.dead_letter_queue.clone();
    let got = eventually("dead letter", Duration::from_secs(20), || async {
        channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
    })
    .await;
    let why = reason(&got);
    assert!(
        why.contains("ahead of the consumer's clock"),
        "unexpected reason: {why}"
    );
    conn.close(200, "done".into()).await.unwrap();

    // The session is not frozen: a later create through the front is stored.
    let stored = app
        .create_stored(&json!({"session": {"uuid": "target", "unit_id": "second"}}))
        .await;
    assert_eq!(stored.unit_id, "second");
}
