//! Repeated fields, as real MDA clients send them (Rails forms above all): the last
//! occurrence wins in every encoding, and each repeat is counted in the front's metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{TestApp, read};
use serde_json::json;

/// What a Rails `form_with` post sends: `utf8=✓`, the CSRF token, a `check_box` (hidden `0`,
/// then the checkbox's `1`), encoded brackets, `+` and `%20` for spaces, the submit button.
const RAILS_FORM: &str = "utf8=%E2%9C%93&authenticity_token=Zm9v%2Bbar%3D%3D&\
    session%5Buuid%5D=rails-1&session%5Bunit_id%5D=tablet+7&\
    session%5Bdata%5D%5Bagree%5D=0&session%5Bdata%5D%5Bagree%5D=1&\
    session[data][newsletter]=0&\
    session[data][Note]=first&session[data][note]=two%20words+here&\
    commit=Save+session";

#[tokio::test]
async fn a_rails_form_post_stores_the_checkbox_value() {
    let app = TestApp::spawn().await;
    let (status, body) = app.post_form(RAILS_FORM).await;
    assert_eq!(status, 202, "{body}");
    let stored = app.stored("rails-1").await;
    assert_eq!(stored.unit_id, "tablet 7");
    assert_eq!(
        stored.points,
        json!({"agree": "1", "newsletter": "0", "note": "two words here"})
    );
    assert_eq!(repeats(&app, "urlencoded").await, 2);
}

#[tokio::test]
async fn a_repeated_multipart_part_keeps_the_last_one() {
    let app = TestApp::spawn().await;
    let file = |bytes: &'static [u8], name: &str| {
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str("image/png")
            .unwrap()
    };
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", "mp-repeat")
        .text("session[unit_id]", "old")
        .text("session[unit_id]", "camera")
        .text("session[data][agree]", "0")
        .text("session[data][agree]", "1")
        .part("session[data][photo]", file(b"first", "a.png"))
        .part("session[data][Photo]", file(b"second", "b.png"));
    let stored = app.post_multipart_stored(form, "mp-repeat").await;
    assert_eq!(stored.unit_id, "camera");
    assert_eq!(stored.points, json!({"agree": "1"}));
    assert_eq!(stored.attachments.len(), 1);
    let (point, _, filename, _, bytes) = &stored.attachments[0];
    assert_eq!(point, "photo");
    assert_eq!(filename.as_deref(), Some("b.png"));
    assert_eq!(bytes, b"second");
    assert_eq!(repeats(&app, "multipart").await, 3);
}

#[tokio::test]
async fn json_duplicate_keys_keep_the_last_value() {
    let app = TestApp::spawn().await;
    let body = r#"{"session": {"uuid": "json-repeat", "unit_id": "old", "unit_id": "new",
        "data": {"agree": "0", "Agree": true, "sketch": {"rawData": "AA", "rawData": "AAE="}}}}"#;
    let response = app
        .signed(app.http.post(app.sessions_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, answer) = read(response).await;
    assert_eq!(status, 202, "{answer}");
    let stored = app.stored("json-repeat").await;
    assert_eq!(stored.unit_id, "new");
    assert_eq!(stored.points, json!({"agree": "true"}));
    assert_eq!(stored.attachments[0].4, [0, 1]);
    assert_eq!(repeats(&app, "json").await, 3);
}

/// `intake_repeated_fields_total` of one encoding, from the front's metrics listener.
async fn repeats(app: &TestApp, encoding: &str) -> u64 {
    let series = format!("intake_repeated_fields_total{{encoding=\"{encoding}\"}}");
    let value = app.metric(&series).await;
    value.unwrap_or_else(|| panic!("{series} missing")) as u64
}
