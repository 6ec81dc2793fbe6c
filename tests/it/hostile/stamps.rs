//! Messages that skip the front: a receive time from the future must not freeze a session.

use serde_json::json;

use crate::common::broker::{dead_letter_reason, next_dead_letter};
use crate::common::{TestApp, publish_uploads, raw_channel};

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
    let got = next_dead_letter(&app, &channel).await;
    let why = dead_letter_reason(&got).expect("a reason header");
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
