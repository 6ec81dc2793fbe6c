//! The write routes end to end: update, delete and attachment changes through the queue,
//! their documented errors, and read-your-write with `?wait=stored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{TestApp, read};
use md5::{Digest as _, Md5};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

fn seed(uuid: &str) -> Value {
    json!({"session": {"uuid": uuid, "unit_id": "unit-1", "created": 1_000, "saved": 2_000,
        "data": {"keep": "kept", "change": "old", "sketch": {"rawData": "AAE="}}}})
}

#[tokio::test]
async fn an_update_changes_only_what_it_gives() {
    let app = TestApp::spawn().await;
    app.create_stored(&seed("upd")).await;
    let path = app.project_path("/sessions/upd");
    let update = json!({"session": {"unit_id": "unit-2",
        "data": {"Change": "new", "added": {"rawData": "/w=="}}}});
    let (status, body) = app.send_json(Method::PUT, &path, Some(update)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["message"], "accepted");
    let predicted = body["result"].clone();
    assert_eq!(predicted["data"]["change"], "new");
    let stored = app.read_until("upd", |s| s["unit_id"] == "unit-2").await;
    assert_eq!(
        stored, predicted,
        "the 202 result is what a read shows afterwards"
    );
    assert_eq!(
        stored["data"],
        json!({"keep": "kept", "change": "new", "sketch": {"rawData": "AAE="},
               "added": {"rawData": "/w=="}})
    );
    assert_eq!(stored["created_timestamp"], 1_000, "not given, not changed");
    let saved = stored["saved_timestamp"].as_i64().unwrap();
    assert!(
        (saved - chrono::Utc::now().timestamp()).abs() < 60,
        "saved defaults to now"
    );

    // PATCH, form-encoded, under the singular prefix; a multipart file replaces the point.
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let form = Form::new().text("session[saved]", "3000").part(
        "session[data][sketch]",
        Part::bytes(photo.clone())
            .file_name("s.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let singular = format!("/api/v1/project/{}/sessions/upd", app.project_id);
    let response = app.request(Method::PATCH, &singular).multipart(form).send();
    assert_eq!(response.await.unwrap().status(), 202);
    let stored = app
        .read_until("upd", |s| s["saved_timestamp"] == 3_000)
        .await;
    assert_eq!(
        stored["data"]["sketch"]["md5"],
        hex::encode(Md5::digest(&photo))
    );
    assert_eq!(stored["unit_id"], "unit-2");
    let file = app
        .request(
            Method::GET,
            &app.project_path("/sessions/upd/attachments/sketch"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "image/png");
    assert!(file.bytes().await.unwrap() == photo);
}

#[tokio::test]
async fn deletes_are_soft_and_hide_the_session() {
    let app = TestApp::spawn().await;
    app.create_stored(&seed("del")).await;
    let path = app.project_path("/sessions/del");
    let (status, body) = app.send_json(Method::DELETE, &path, None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"]["is_deleted"], true);
    let stored = app.read_until("del", |s| s["is_deleted"] == true).await;
    assert_eq!(stored["data"]["keep"], "kept", "data is kept");
    assert_eq!(app.get_json(&path).await.0, 404);
    let (_, list) = app.get_json(&app.project_path("/sessions")).await;
    assert_eq!(list["result"], json!([]));
    assert_eq!(app.send_json(Method::DELETE, &path, None).await.0, 404);
    let again = format!("{path}?deleted=true");
    assert_eq!(app.send_json(Method::DELETE, &again, None).await.0, 202);
    let update = json!({"session": {"data": {"keep": "x"}}});
    assert_eq!(app.send_json(Method::PUT, &path, Some(update)).await.0, 404);
}

#[tokio::test]
async fn attachments_are_replaced_and_removed() {
    let app = TestApp::spawn().await;
    app.create_stored(&seed("att")).await;
    let path = format!(
        "/api/v1/project/{}/sessions/att/attachments/Photo",
        app.project_id
    );
    let bytes: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
    let form = Form::new().part(
        "attachment",
        Part::bytes(bytes.clone())
            .file_name("p.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let (status, body) = read(
        app.request(Method::PUT, &path)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let md5 = hex::encode(Md5::digest(&bytes));
    assert_eq!(body["result"], json!({"length": 40_000, "md5": md5}));
    let stored = app
        .read_until("att", |s| s["data"]["photo"]["md5"] == md5)
        .await;
    assert_eq!(stored["data"]["photo"]["filename"], "p.jpg");

    // A raw body replaces it; its content type is kept, the name comes from ?filename=.
    let raw = app
        .request(
            Method::PUT,
            &format!("{path}?filename=n%C3%A9w.bin&wait=stored"),
        )
        .header("content-type", "application/octet-stream")
        .body(vec![9u8, 8, 7]);
    let (status, body) = read(raw.send().await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("stored")),
        "{body}"
    );
    let get = app.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(
        get.headers()["content-disposition"],
        "attachment; filename*=UTF-8''n%C3%A9w.bin"
    );
    assert_eq!(get.bytes().await.unwrap().as_ref(), [9, 8, 7]);

    let (status, body) = app.send_json(Method::DELETE, &path, None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"], json!({"point": "photo", "deleted": true}));
    app.read_until("att", |s| s["data"].get("photo").is_none())
        .await;
    assert_eq!(app.get_json(&path).await.0, 404);
    assert_eq!(app.send_json(Method::DELETE, &path, None).await.0, 404);
    // An embedded rawData is an attachment too.
    let sketch = app.project_path("/sessions/att/attachments/sketch");
    assert_eq!(app.send_json(Method::DELETE, &sketch, None).await.0, 202);
}

#[tokio::test]
async fn absent_sessions_and_attachments_are_404() {
    let app = TestApp::spawn().await;
    app.create_stored(&seed("here")).await;
    let other = app.add_project("other", true).await;
    let upload = json!({"session": {"uuid": "theirs", "unit_id": "u"}});
    let other_sessions = app.url(&format!("/api/v1/projects/{other}/sessions?wait=stored"));
    let (status, _) = read(
        app.signed(app.http.post(other_sessions))
            .json(&upload)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let update = json!({"session": {"data": {"p": "v"}}});
    for uuid in ["nobody", "theirs"] {
        let path = app.project_path(&format!("/sessions/{uuid}"));
        for method in [Method::PUT, Method::PATCH] {
            let (status, body) = app.send_json(method, &path, Some(update.clone())).await;
            assert_eq!(
                (status, body["status"].as_str()),
                (404, Some("not found")),
                "{uuid}"
            );
        }
        assert_eq!(app.send_json(Method::DELETE, &path, None).await.0, 404);
        let attachment = format!("{path}/attachments/p");
        let put = app.request(Method::PUT, &attachment).body(vec![1u8]);
        assert_eq!(put.send().await.unwrap().status(), 404, "{uuid}");
        assert_eq!(
            app.send_json(Method::DELETE, &attachment, None).await.0,
            404
        );
    }
    let text_point = app.project_path("/sessions/here/attachments/keep");
    assert_eq!(
        app.send_json(Method::DELETE, &text_point, None).await.0,
        404
    );
}

#[tokio::test]
async fn bad_writes_get_4xx_naming_the_field() {
    let app = TestApp::front_with(|c| c.front.body_limit_bytes = 4_096).await;
    app.execute(&format!(
        "INSERT INTO sessions (project_id, uuid, unit_id, created, saved, received, received_from,
                               upload_id, points)
         VALUES ({}, 'bad', 'u', now(), now(), now(), 'x', gen_random_uuid(), '{{}}')",
        app.project_id
    ));
    let path = app.project_path("/sessions/bad");
    let attachment = app.project_path("/sessions/bad/attachments/p");
    let cases = [
        (
            Method::PUT,
            path.clone(),
            json!({"session": {"uuid": "other"}}),
            "session[uuid]",
        ),
        (
            Method::PATCH,
            path.clone(),
            json!({"session": {"created": "soon"}}),
            "session[created]",
        ),
        (
            Method::PUT,
            path.clone(),
            json!({"session": {"data": {"x": [1]}}}),
            "session[data][x]",
        ),
        (
            Method::PUT,
            path.clone(),
            json!({"session": {"unit_id": ""}}),
            "session[unit_id]",
        ),
        (Method::PUT, format!("{path}?wait=later"), json!({}), "wait"),
    ];
    for (method, url, body, field) in cases {
        let (status, response) = app.send_json(method, &url, Some(body)).await;
        assert_eq!(status, 400, "{field}: {response}");
        assert!(response["errors"][field].is_array(), "{field}: {response}");
    }
    let empty = app.request(Method::PUT, &attachment).body(Vec::<u8>::new());
    let (status, body) = read(empty.send().await.unwrap()).await;
    assert_eq!(
        (status, body["errors"]["attachment"].is_array()),
        (400, true),
        "{body}"
    );
    let form = Form::new().text("other", "x");
    let (status, body) = read(
        app.request(Method::PUT, &attachment)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["errors"]["attachment"].is_array()),
        (400, true),
        "{body}"
    );
    let bad_point = app.project_path("/sessions/bad/attachments/a%5Db");
    let (status, body) = read(
        app.request(Method::PUT, &bad_point)
            .body(vec![1u8])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["errors"]["point"].is_array()),
        (400, true),
        "{body}"
    );
    let xml = app
        .request(Method::PUT, &path)
        .header("content-type", "text/xml")
        .body("<x/>");
    assert_eq!(xml.send().await.unwrap().status(), 415);
    let huge = app
        .request(Method::PUT, &attachment)
        .body(vec![0u8; 10_000]);
    assert_eq!(huge.send().await.unwrap().status(), 413);
    let unsigned = app.http.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(unsigned.status(), 403);
}
