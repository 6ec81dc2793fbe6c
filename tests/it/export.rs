//! The export route: every matching session streamed as ndjson (file bytes inline) or csv
//! (one column per point over the export), with the list's filters and its errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::multipart::file_part;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{TestApp, read};
use reqwest::Method;
use serde_json::{Value, json};

pub fn photo() -> Vec<u8> {
    (0..=255u8).cycle().take(50_000).collect()
}

/// A session with a text point, a `rawData` point and a file.
pub async fn upload_with_file(app: &TestApp, uuid: &str) {
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", uuid.to_owned())
        .text("session[unit_id]", "camera")
        .text("session[data][caption]", "a \"quoted\", text")
        .text("session[data][sketch][rawData]", "AAEC/w==")
        .part(
            "session[data][photo]",
            file_part(photo(), "door.jpg", "image/jpeg"),
        );
    app.post_multipart_stored(form, uuid).await;
}

async fn export(app: &TestApp, query: &str) -> (u16, String, String) {
    let path = app.project_path(&format!("/sessions/export{query}"));
    let response = app.request(Method::GET, &path).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn ndjson_holds_every_session_as_read_with_file_bytes() {
    let app = TestApp::spawn().await;
    upload_with_file(&app, "with-file").await;
    // More sessions than one page holds, so the stream goes past its first page.
    for i in 0..450 {
        app.create_stored(
            &json!({"session": {"uuid": format!("plain-{i}"), "unit_id": "u",
            "data": {"n": i.to_string()}}}),
        )
        .await;
    }
    let (status, content_type, body) = export(&app, "").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-ndjson")
    );
    let sessions = lines(&body);
    assert_eq!(sessions.len(), 451);
    let mut uuids: Vec<&str> = sessions
        .iter()
        .map(|s| s["uuid"].as_str().unwrap())
        .collect();
    uuids.sort_unstable();
    uuids.dedup();
    assert_eq!(uuids.len(), 451, "no session twice");
    let full = sessions.iter().find(|s| s["uuid"] == "with-file").unwrap();
    let (_, read_back) = app.get_json(&app.project_path("/sessions/with-file")).await;
    let mut expected = read_back["result"].clone();
    expected["data"]["photo"]["base64"] = STANDARD.encode(photo()).into();
    assert_eq!(full, &expected, "the read view, file bytes inline");
}

#[tokio::test]
async fn csv_has_a_column_per_point_and_attachment_paths() {
    let app = TestApp::spawn().await;
    upload_with_file(&app, "with-file").await;
    app.create_stored(&json!({"session": {"uuid": "other", "unit_id": "u2",
        "data": {"extra": "x"}}}))
        .await;
    let (status, content_type, body) = export(&app, "?format=csv").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    let rows: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        rows[0],
        "uuid,unit_id,created,saved,received,received_from,is_deleted,caption,extra,photo,sketch"
    );
    assert_eq!(rows.len(), 4, "header, two rows, final line break: {body}");
    let file_row = rows
        .iter()
        .find(|row| row.starts_with("with-file,"))
        .unwrap();
    let project = app.project_id;
    assert!(
        file_row.ends_with(&format!(
            ",\"a \"\"quoted\"\", text\",,/api/v1/projects/{project}/sessions/with-file/attachments/photo,/api/v1/projects/{project}/sessions/with-file/attachments/sketch"
        )),
        "{file_row}"
    );
    let other = rows.iter().find(|row| row.starts_with("other,")).unwrap();
    assert!(other.ends_with(",false,,x,,"), "{other}");
}

#[tokio::test]
async fn filters_select_and_bad_ones_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (uuid, unit) in [("s1", "a"), ("s2", "b"), ("s3", "a")] {
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": unit}}))
            .await;
    }
    app.execute(
        "UPDATE sessions SET received = to_timestamp(1700000000 + 100 * substr(uuid, 2)::int)",
    );
    app.execute("UPDATE sessions SET is_deleted = true WHERE uuid = 's3'");
    let uuids = |body: &str| -> Vec<String> {
        lines(body)
            .iter()
            .map(|s| s["uuid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(uuids(&export(&app, "").await.2), ["s2", "s1"]);
    assert_eq!(
        uuids(&export(&app, "?deleted=true").await.2),
        ["s3", "s2", "s1"]
    );
    assert_eq!(
        uuids(&export(&app, "?unit_id=a&deleted=1").await.2),
        ["s3", "s1"]
    );
    assert_eq!(
        uuids(&export(&app, "?since=1700000200&until=1700000200").await.2),
        ["s2"]
    );
    for (query, name) in [
        ("?format=xml", "format"),
        ("?since=yesterday", "since"),
        ("?until=-", "until"),
        ("?deleted=maybe", "deleted"),
        ("?unit_id=", "unit_id"),
    ] {
        let path = app.project_path(&format!("/sessions/export{query}"));
        let (status, body) = read(app.request(Method::GET, &path).send().await.unwrap()).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["errors"].get(name).is_some(), "{query}: {body}");
    }
    let unsigned = app
        .http
        .get(app.url(&app.project_path("/sessions/export")))
        .send()
        .await
        .unwrap();
    assert!(unsigned.status().is_client_error(), "unsigned is refused");
}
