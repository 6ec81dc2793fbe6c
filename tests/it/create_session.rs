//! The create route end to end: HTTP in, real RabbitMQ, real consumer, rows in PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::multipart::file_part;

use common::{TestApp, read, sign};
use serde_json::json;

const EXAMPLE_JSON: &str = include_str!("../../examples/create-session.json");
const EXAMPLE_FORM: &str = include_str!("../../examples/create-session.form");
const EXAMPLE_UUID: &str = "12341234-12341234-1234-1234-123412341234";

/// The example's `rawData`, decoded: URL-safe alphabet, trailing bits set.
fn example_raw_bytes() -> Vec<u8> {
    intake::session::decode_base64("base-64-data-goes-here").unwrap()
}

#[tokio::test]
async fn the_json_example_is_accepted_verbatim_and_stored() {
    let app = TestApp::spawn().await;
    let response = app
        .signed(app.http.post(app.sessions_url()))
        .header("content-type", "application/json")
        .body(EXAMPLE_JSON)
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("x-upload-id"));
    let (status, body) = read(response).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "accepted");
    assert_eq!(body["result"]["uuid"], EXAMPLE_UUID);
    assert_eq!(body["result"]["created"], "2009-02-13T23:31:30Z");
    assert_eq!(body["result"]["created_timestamp"], 1_234_567_890);
    assert_eq!(body["result"]["received_from"], "device-fleet");

    let stored = app.stored(EXAMPLE_UUID).await;
    assert_eq!(stored.unit_id, "mydevice");
    assert_eq!(stored.created, 1_234_567_890);
    assert_eq!(stored.saved, 1_234_567_890);
    assert_eq!(
        stored.points,
        json!({"point1": "value1", "point2": "value2"})
    );
    assert_eq!(stored.timezone_offset, None);
    assert_eq!(stored.attachments.len(), 1);
    let (point, embedded, _, _, bytes) = &stored.attachments[0];
    assert_eq!((point.as_str(), *embedded), ("sketch1", true));
    assert_eq!(bytes, &example_raw_bytes());
}

#[tokio::test]
async fn the_form_example_is_accepted_verbatim_and_stored() {
    let app = TestApp::spawn().await;
    let (status, body) = app.post_form(EXAMPLE_FORM).await;
    assert_eq!(status, 202, "{body}");
    let stored = app.stored(EXAMPLE_UUID).await;
    assert_eq!(stored.unit_id, "mydevice");
    assert_eq!(
        stored.points,
        json!({"point1": "value1", "point2": "value2", "__timezone__": "36000"})
    );
    assert_eq!(stored.timezone_offset, Some(36_000));
    assert_eq!(stored.attachments[0].4, example_raw_bytes());
}

#[tokio::test]
async fn names_are_lower_cased_and_defaults_filled_in() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post_json(&json!({"session": {
            "unit_id": "unit-7",
            "data": {"Point1": "A", "COUNT": 3, "ok": true, "none": null}
        }}))
        .await;
    assert_eq!(status, 202, "{body}");
    let uuid = body["result"]["uuid"].as_str().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(&uuid).is_ok(),
        "a v4 uuid is generated: {uuid}"
    );
    let received = body["result"]["received_timestamp"].as_i64().unwrap();
    let stored = app.stored(&uuid).await;
    assert_eq!(
        stored.points,
        json!({"point1": "A", "count": "3", "ok": "true", "none": ""})
    );
    assert_eq!((stored.created, stored.saved), (received, received));
}

#[tokio::test]
async fn multipart_files_are_stored_byte_for_byte() {
    let app = TestApp::spawn().await;
    let photo: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", "mp-1")
        .text("session[unit_id]", "camera-3")
        .text("session[data][Caption]", "front door")
        .part(
            "session[data][photo1]",
            file_part(photo.clone(), "door.jpg", "image/jpeg"),
        );
    let response = app.post_multipart(form).await;
    let (status, body) = read(response).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["result"]["data"]["photo1"]["length"], 300_000);
    assert_eq!(body["result"]["data"]["photo1"]["filename"], "door.jpg");
    let stored = app.stored("mp-1").await;
    assert_eq!(stored.points, json!({"caption": "front door"}));
    let (point, embedded, filename, content_type, bytes) = &stored.attachments[0];
    assert_eq!(point, "photo1");
    assert!(!embedded);
    assert_eq!(filename.as_deref(), Some("door.jpg"));
    assert_eq!(content_type, "image/jpeg");
    assert!(bytes == &photo, "stored bytes differ from the upload");
}

#[tokio::test]
async fn curl_uploads_are_stored_byte_for_byte() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("curl is required for this test (make test installs it)");
    }
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("intake-curl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scan.bin");
    let bytes: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let headers = intake::auth::headers(&app.username, &app.secret, chrono::Utc::now().timestamp());
    let mut command = tokio::process::Command::new("curl");
    command.args(["-sS", "-X", "POST", &app.sessions_url()]);
    for (name, value) in &headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    command.args([
        "-F",
        "session[uuid]=curl-1",
        "-F",
        "session[unit_id]=tablet",
        "-F",
        &format!("session[data][scan]=@{}", file.display()),
    ]);
    let output = command.output().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let stored = app.stored("curl-1").await;
    assert_eq!(stored.attachments[0].2.as_deref(), Some("scan.bin"));
    assert!(stored.attachments[0].4 == bytes);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_existing_uuid_is_replaced_whole() {
    let app = TestApp::spawn().await;
    let first = json!({"session": {"uuid": "s-1", "unit_id": "a", "data": {
        "p1": "one", "p2": "two", "sketch": {"rawData": "AAEC"}}}});
    assert_eq!(app.post_json(&first).await.0, 202);
    let stored = app.stored("s-1").await;
    assert_eq!(stored.attachments.len(), 1);

    let second = json!({"session": {"uuid": "s-1", "unit_id": "b", "data": {"p3": "three"}}});
    assert_eq!(app.post_json(&second).await.0, 202);
    let replaced = common::eventually(
        "replacement stored",
        std::time::Duration::from_secs(30),
        || async { app.stored_now("s-1").await.filter(|s| s.unit_id == "b") },
    )
    .await;
    assert_eq!(
        replaced.points,
        json!({"p3": "three"}),
        "old points are gone, not merged"
    );
    assert!(replaced.attachments.is_empty(), "old attachments are gone");
    assert_eq!(common::count(&app.db.url, "sessions"), 1);
}

#[tokio::test]
async fn the_same_uuid_in_another_project_is_another_session() {
    let app = TestApp::spawn().await;
    let other_project = {
        let mut conn = app.db.conn();
        let id = intake::store::admin::create_project(&mut conn, "second").unwrap();
        let user = intake::store::admin::find_user(&mut conn, &app.username)
            .unwrap()
            .unwrap();
        intake::store::admin::grant(&mut conn, user.id, id).unwrap();
        id
    };
    // The front learns of the new project on its next cache refresh.
    let other_url = app.url(&format!("/api/v1/project/{other_project}/sessions"));
    let body = json!({"session": {"uuid": "shared", "unit_id": "x", "data": {"p": "second"}}});
    common::eventually(
        "second project accepted",
        std::time::Duration::from_secs(15),
        || async {
            let response = app
                .signed(app.http.post(&other_url))
                .json(&body)
                .send()
                .await
                .ok()?;
            (response.status().as_u16() == 202).then_some(())
        },
    )
    .await;
    let first = json!({"session": {"uuid": "shared", "unit_id": "x", "data": {"p": "first"}}});
    assert_eq!(app.post_json(&first).await.0, 202);
    assert_eq!(app.stored("shared").await.points, json!({"p": "first"}));
    let second = common::eventually("second stored", std::time::Duration::from_secs(30), || {
        let url = app.db.url.clone();
        async move { common::load_session(&url, other_project, "shared") }
    })
    .await;
    assert_eq!(second.points, json!({"p": "second"}));
}

#[tokio::test]
async fn invalid_sessions_get_400_naming_each_field() {
    let app = TestApp::front_only().await;
    let (status, body) = app
        .post_json(&json!({"session": {
            "uuid": "has spaces",
            "created": -5,
            "saved": "soon",
            "data": {"list": [1, 2], "pic": {"rawData": "***"}, "bad[name]": "x"}
        }}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["status"], "bad request");
    let errors = body["errors"].as_object().unwrap();
    for field in [
        "session[uuid]",
        "session[unit_id]",
        "session[created]",
        "session[saved]",
        "session[data][list]",
        "session[data][pic]",
        "session[data][bad[name]]",
    ] {
        assert!(errors.contains_key(field), "no error for {field}: {body}");
    }
}

#[tokio::test]
async fn bodies_that_cannot_be_read_get_clear_4xx() {
    let app = TestApp::front_with(|config| config.front.body_limit_bytes = 10_000).await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        let request = app.signed(app.http.post(app.sessions_url()));
        async move {
            read(
                request
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, body) = post("text/plain", b"hello".to_vec()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (415, Some("unsupported media type"))
    );
    let (status, body) = post("application/json", b"{\"session\": ".to_vec()).await;
    assert_eq!(status, 400);
    assert!(body["errors"]["body"].is_array(), "{body}");
    let (status, body) = post("application/json", b"[1]".to_vec()).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post("application/json", vec![b' '; 20_000]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (413, Some("payload too large"))
    );
    let (status, _) = post(
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nnot a part".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn authentication_failures_are_403_and_unknown_projects_404() {
    let app = TestApp::front_only().await;
    let session = json!({"session": {"unit_id": "u"}});
    let unsigned = app
        .http
        .post(app.sessions_url())
        .json(&session)
        .send()
        .await
        .unwrap();
    let (status, body) = read(unsigned).await;
    assert_eq!((status, body["status"].as_str()), (403, Some("forbidden")));

    let wrong_secret = sign(
        app.http.post(app.sessions_url()),
        &app.username,
        "not-the-secret",
    );
    assert_eq!(
        read(wrong_secret.json(&session).send().await.unwrap())
            .await
            .0,
        403
    );

    let stale = intake::auth::headers(
        &app.username,
        &app.secret,
        chrono::Utc::now().timestamp() - 3_600,
    );
    let request = stale
        .into_iter()
        .fold(app.http.post(app.sessions_url()), |r, (name, value)| {
            r.header(name, value)
        });
    let (status, body) = read(request.json(&session).send().await.unwrap()).await;
    assert_eq!(status, 403);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("X-API-Timestamp"),
        "{body}"
    );

    let not_granted = {
        let mut conn = app.db.conn();
        intake::store::admin::create_project(&mut conn, "not-granted").unwrap()
    };
    let url = app.url(&format!("/api/v1/projects/{not_granted}/sessions"));
    common::eventually(
        "ungranted project is 403",
        std::time::Duration::from_secs(15),
        || async {
            let response = app
                .signed(app.http.post(&url))
                .json(&session)
                .send()
                .await
                .ok()?;
            (response.status().as_u16() == 403).then_some(())
        },
    )
    .await;

    let missing = app.url("/api/v1/projects/999999/sessions");
    let (status, body) = read(
        app.signed(app.http.post(missing))
            .json(&session)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (404, Some("not found")));

    let bad_id = app.url("/api/v1/projects/abc/sessions");
    let (status, body) = read(
        app.signed(app.http.post(bad_id))
            .json(&session)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["errors"]["project_id"].is_array(), "{body}");
}

#[tokio::test]
async fn time_health_and_readiness_answer() {
    let app = TestApp::front_only().await;
    let (status, body) = read(app.http.get(app.url("/api/v1/time")).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let now = chrono::Utc::now().timestamp();
    assert!((body["result"].as_i64().unwrap() - now).abs() <= 5);
    assert_eq!(
        read(app.http.get(app.url("/healthz")).send().await.unwrap())
            .await
            .0,
        200
    );
    assert_eq!(
        read(app.http.get(app.url("/readyz")).send().await.unwrap())
            .await
            .0,
        200
    );
    let (status, body) = read(app.http.get(app.url("/nowhere")).send().await.unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("not found")));
}

#[tokio::test]
async fn the_front_counts_requests_in_prometheus_format() {
    let app = TestApp::front_only().await;
    assert_eq!(
        app.post_json(&json!({"session": {"unit_id": "m"}})).await.0,
        202
    );
    let devices_port = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        devices_port.status(),
        404,
        "metrics are not on the devices' port"
    );
    let text = app.metrics_text().await;
    for needle in [
        "intake_http_requests_total{",
        "route=\"/api/v1/projects/{project_id}/sessions\"",
        "intake_publish_total{result=\"confirmed\"}",
        "intake_accept_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
