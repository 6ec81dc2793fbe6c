//! The read routes end to end: sessions, attachments and devices read back from PostgreSQL
//! as they were uploaded, scoped by project, with every documented error status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;
use crate::common::multipart::file_part;

use common::{TestApp, read};
use md5::{Digest as _, Md5};
use reqwest::Method;
use serde_json::json;

fn photo() -> Vec<u8> {
    (0..=255u8).rev().cycle().take(70_000).collect()
}

/// A session with a text point, a `rawData` point and a file, uploaded as multipart.
async fn upload_full(app: &TestApp, uuid: &str) {
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", uuid.to_owned())
        .text("session[unit_id]", "camera-7")
        .text("session[created]", "1234567890")
        .text("session[saved]", "1234567891")
        .text("session[data][Caption]", "front door")
        .text("session[data][sketch][rawData]", "AAEC/w==")
        .part(
            "session[data][photo]",
            file_part(photo(), "door.jpg", "image/jpeg"),
        );
    app.post_multipart_stored(form, uuid).await;
}

#[tokio::test]
async fn a_session_reads_back_as_it_was_uploaded() {
    let app = TestApp::spawn().await;
    upload_full(&app, "full-1").await;
    for prefix in ["projects", "project"] {
        let path = format!("/api/v1/{prefix}/{}/sessions/full-1", app.project_id);
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "success");
        let session = &body["result"];
        assert_eq!(session["uuid"], "full-1");
        assert_eq!(session["unit_id"], "camera-7");
        assert_eq!(session["created"], "2009-02-13T23:31:30Z");
        assert_eq!(session["created_timestamp"], 1_234_567_890);
        assert_eq!(session["saved_timestamp"], 1_234_567_891);
        assert_eq!(session["received_from"], "device-fleet");
        assert_eq!(session["is_deleted"], false);
        let received = session["received_timestamp"].as_i64().unwrap();
        assert!((received - chrono::Utc::now().timestamp()).abs() < 60);
        assert_eq!(
            session["data"],
            json!({
                "caption": "front door",
                "sketch": {"rawData": "AAEC/w=="},
                "photo": {
                    "filename": "door.jpg",
                    "content_type": "image/jpeg",
                    "length": 70_000,
                    "md5": hex::encode(Md5::digest(photo())),
                },
            })
        );
    }
}

#[tokio::test]
async fn absent_deleted_and_foreign_sessions_are_404() {
    let app = TestApp::spawn().await;
    app.create_stored(&json!({"session": {"uuid": "gone", "unit_id": "u"}}))
        .await;
    let (status, body) = app.get_json(&app.project_path("/sessions/nobody")).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("not found")));

    app.execute("UPDATE sessions SET is_deleted = true WHERE uuid = 'gone'");
    assert_eq!(
        app.get_json(&app.project_path("/sessions/gone")).await.0,
        404
    );
    let (status, body) = app
        .get_json(&app.project_path("/sessions/gone?deleted=true"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["is_deleted"], true);

    // A session of another project (one this user may use, too) is not found here: 404,
    // never 403, so ids of other projects do not leak.
    let other = app.add_project("other", true).await;
    let other_sessions = app.url(&format!("/api/v1/projects/{other}/sessions"));
    let upload = json!({"session": {"uuid": "theirs", "unit_id": "u"}});
    let response = app.signed(app.http.post(&other_sessions)).json(&upload);
    assert_eq!(response.send().await.unwrap().status(), 202);
    let theirs = format!("/api/v1/projects/{other}/sessions/theirs");
    common::eventually("stored", std::time::Duration::from_secs(30), || async {
        (app.get_json(&theirs).await.0 == 200).then_some(())
    })
    .await;
    let (status, body) = app.get_json(&app.project_path("/sessions/theirs")).await;
    assert_eq!(status, 404, "{body}");
    let path = app.project_path("/sessions/theirs/attachments/p");
    assert_eq!(app.get_json(&path).await.0, 404);
}

#[tokio::test]
async fn bad_requests_name_the_parameter() {
    let app = TestApp::front_only().await;
    let unknown = app.add_project("not-granted", false).await;
    let cases: Vec<(String, u16, Option<&str>)> = vec![
        (
            "/api/v1/projects/0/sessions/x".into(),
            400,
            Some("project_id"),
        ),
        (
            "/api/v1/projects/abc/sessions".into(),
            400,
            Some("project_id"),
        ),
        (app.project_path("/sessions/bad%20uuid"), 400, Some("uuid")),
        (
            app.project_path("/sessions/x/attachments/a%5Bb%5D"),
            400,
            Some("point"),
        ),
        (
            app.project_path("/sessions/x?deleted=maybe"),
            400,
            Some("deleted"),
        ),
        (app.project_path("/sessions?limit=0"), 400, Some("limit")),
        (app.project_path("/sessions?limit=1001"), 400, Some("limit")),
        (app.project_path("/sessions?limit=ten"), 400, Some("limit")),
        (
            app.project_path("/sessions?cursor=garbage"),
            400,
            Some("cursor"),
        ),
        (app.project_path("/sessions?since=-5"), 400, Some("since")),
        (
            app.project_path("/sessions?until=tomorrow"),
            400,
            Some("until"),
        ),
        (app.project_path("/sessions?unit_id="), 400, Some("unit_id")),
        (format!("/api/v1/projects/{unknown}/sessions"), 403, None),
        (format!("/api/v1/projects/{unknown}/devices"), 403, None),
        ("/api/v1/projects/987654/sessions/x".into(), 404, None),
        ("/api/v1/project/987654/devices".into(), 404, None),
    ];
    for (path, want, field) in cases {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["message"].is_string(), "{path}: {body}");
        if let Some(field) = field {
            assert!(body["errors"][field].is_array(), "{path}: {body}");
        }
    }
    for path in [
        app.project_path("/sessions"),
        app.project_path("/sessions/x"),
        app.project_path("/sessions/x/attachments/p"),
        "/api/v1/devices".to_owned(),
    ] {
        let (status, body) = read(app.http.get(app.url(&path)).send().await.unwrap()).await;
        assert_eq!((status, body["status"].as_str()), (403, Some("forbidden")));
    }
}

#[tokio::test]
async fn attachments_serve_the_uploaded_bytes() {
    let app = TestApp::spawn().await;
    upload_full(&app, "files").await;
    let path = format!(
        "/api/v1/project/{}/sessions/files/attachments/photo",
        app.project_id
    );
    let response = app.request(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''door.jpg"
    );
    assert!(response.bytes().await.unwrap() == photo());

    // Point names are case-insensitive; an embedded rawData is served too.
    let sketch = app.project_path("/sessions/files/attachments/SKETCH");
    let response = app.request(Method::GET, &sketch).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), [0, 1, 2, 255]);

    for missing in ["caption", "nothing"] {
        let path = app.project_path(&format!("/sessions/files/attachments/{missing}"));
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 404, "{missing}: {body}");
    }
    let path = app.project_path("/sessions/absent/attachments/photo");
    assert_eq!(app.get_json(&path).await.0, 404);
}

#[tokio::test]
async fn devices_are_listed_per_project_and_across_granted_projects() {
    let app = TestApp::spawn().await;
    for (uuid, unit) in [("d1", "alpha"), ("d2", "beta"), ("d3", "alpha")] {
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": unit}}))
            .await;
    }
    let granted = app.add_project("granted", true).await;
    let hidden = app.add_project("hidden", false).await;
    app.execute(&format!(
        "INSERT INTO devices VALUES ({granted}, 'gamma', now() - interval '1 day', now()),
                                    ({hidden}, 'delta', now(), now())"
    ));

    let (status, body) = app.get_json(&app.project_path("/devices")).await;
    assert_eq!(status, 200, "{body}");
    let devices = body["result"].as_array().unwrap();
    let units: Vec<&str> = devices
        .iter()
        .map(|d| d["unit_id"].as_str().unwrap())
        .collect();
    assert_eq!(units, ["alpha", "beta"], "most recently seen first");
    let alpha = &devices[0];
    assert_eq!(alpha["project_id"], app.project_id);
    assert!(alpha["last_seen_timestamp"].as_i64() >= alpha["first_seen_timestamp"].as_i64());
    assert!(alpha["last_seen"].as_str().unwrap().ends_with('Z'));

    let (status, body) = app.get_json("/api/v1/devices").await;
    assert_eq!(status, 200, "{body}");
    let mut units: Vec<&str> = body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["unit_id"].as_str().unwrap())
        .collect();
    units.sort_unstable();
    assert_eq!(
        units,
        ["alpha", "beta", "gamma"],
        "never another user's project"
    );
}
