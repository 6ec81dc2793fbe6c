//! Hostile input that the front must bound or refuse: made-up methods, bodies that would
//! amplify memory or the answer, names that change length when lower-cased, probes for user
//! names, forged cursors, doubled credentials, huge file names, and pages of huge sessions.

use serde_json::json;

use super::raw::{assert_json_4xx, auth_headers, exchange, post};
use crate::common::{TestApp, read};

#[tokio::test]
async fn made_up_methods_share_one_metrics_label() {
    let app = TestApp::front_only().await;
    for i in 0..20 {
        let head = format!(
            "XMETHOD{i:04}{} /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            "Z".repeat(500)
        );
        exchange(&app, &head, b"", None).await;
    }
    let metrics = app.metrics_text().await;
    assert!(
        !metrics.contains("XMETHOD"),
        "a made-up method became a label"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[tokio::test]
async fn bodies_of_many_bad_fields_get_a_short_answer() {
    let app = TestApp::front_only().await;
    // 100,000 invalid names (control characters), each a little different.
    let form: String = (0..100_000)
        .map(|i| format!("session[data][%01{i}%01]=x&"))
        .collect();
    let raw = post(&app, "application/x-www-form-urlencoded", form.as_bytes()).await;
    assert_json_4xx(&raw, 400, "many bad fields");
    assert!(
        raw.body.len() < 64 * 1024,
        "answer of {} bytes",
        raw.body.len()
    );
    let body: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    assert_eq!(
        body["errors"]["session[data]"][0],
        "must have at most 2000 points"
    );

    // Fewer points than the limit, all with names far too long: 100 listed, the rest counted.
    let long = "n".repeat(300);
    let json_points: serde_json::Map<String, serde_json::Value> = (0..1_500)
        .map(|i| (format!("{i}{long}"), json!("x")))
        .collect();
    let body = json!({"session": {"unit_id": "u", "data": json_points}}).to_string();
    let raw = post(&app, "application/json", body.as_bytes()).await;
    assert_json_4xx(&raw, 400, "1,500 bad names");
    let body: serde_json::Value = serde_json::from_str(&raw.body).unwrap();
    let listed = body["errors"].as_object().unwrap();
    assert_eq!(listed.len(), 100);
    assert!(listed.keys().all(|name| name.chars().count() <= 201));
    assert_eq!(body["errors_omitted"], 1_400);

    // A million tiny points in JSON: refused as too many, without reading them all in.
    let tiny: String = (0..1_000_000).map(|i| format!("\"{i}\":1,")).collect();
    let body = format!(
        "{{\"session\":{{\"unit_id\":\"u\",\"data\":{{{}}}}}}}",
        tiny.trim_end_matches(',')
    );
    let raw = post(&app, "application/json", body.as_bytes()).await;
    assert_json_4xx(&raw, 400, "a million points");
    assert!(
        raw.body.contains("must have at most 2000 points"),
        "{}",
        raw.body
    );
}

#[tokio::test]
async fn a_name_too_long_once_lower_cased_is_refused_by_the_front() {
    let app = TestApp::front_only().await;
    // 100 characters as sent, 200 as stored: the consumer would dead-letter it after a 202.
    let name = "İ".repeat(100);
    let (status, body) = app
        .post_json(&json!({"session": {"unit_id": "u", "data": {name.clone(): "x"}}}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"][format!("session[data][{name}]")].is_array(),
        "{body}"
    );
}

#[tokio::test]
async fn stale_requests_get_one_answer_for_known_and_unknown_users() {
    let app = TestApp::front_only().await;
    let stale = chrono::Utc::now().timestamp() - 3_600;
    let answer = |user: &str, secret: &str| {
        let request = app.http.get(app.sessions_url());
        let [(ts_name, ts), (auth_name, auth)] = intake::auth::headers(user, secret, stale);
        request.header(ts_name, ts).header(auth_name, auth)
    };
    let (known_status, known) =
        read(answer(&app.username, &app.secret).send().await.unwrap()).await;
    let (unknown_status, unknown) = read(answer("nobody", "guess").send().await.unwrap()).await;
    assert_eq!((known_status, unknown_status), (403, 403));
    assert_eq!(known["message"], unknown["message"], "{known} vs {unknown}");
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = TestApp::front_only().await;
    let valid = auth_headers(&app);
    let head = format!(
        "GET /api/v1/projects/{}/sessions HTTP/1.1\r\nHost: t\r\n{valid}Authorization: Basic Zm9vOmJhcg==\r\nConnection: close\r\n\r\n",
        app.project_id
    );
    let raw = exchange(&app, &head, b"", None).await;
    assert_json_4xx(&raw, 403, "two Authorization headers");
    assert!(raw.body.contains("once"), "{}", raw.body);
}

#[tokio::test]
async fn a_forged_cursor_is_a_400_naming_cursor() {
    use base64::Engine as _;
    let app = TestApp::front_only().await;
    // Year -200000: chrono has it, PostgreSQL does not.
    let forged =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("v1:-6311390400000000000:1");
    let (status, body) = app
        .get_json(&app.project_path(&format!("/sessions?cursor={forged}")))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["cursor"].is_array(), "{body}");
}

#[tokio::test]
async fn huge_file_names_and_content_types_are_refused() {
    let app = TestApp::front_only().await;
    let form = reqwest::multipart::Form::new()
        .text("session[unit_id]", "u")
        .part(
            "session[data][f]",
            reqwest::multipart::Part::bytes(vec![1, 2, 3]).file_name("n".repeat(60_000)),
        );
    let response = app.post_multipart(form).await;
    let (status, body) = read(response).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["errors"]["session[data][f]"][0]
            .as_str()
            .unwrap()
            .contains("255"),
        "{body}"
    );
}

#[tokio::test]
async fn list_pages_are_bounded_in_bytes() {
    let app = TestApp::spawn().await;
    // Three sessions of 5 MiB each: an 8 MiB page holds one, then the next, then the last.
    let megabyte = "x".repeat(1 << 20);
    for uuid in ["big-1", "big-2", "big-3"] {
        let data: serde_json::Map<String, serde_json::Value> =
            (0..5).map(|i| (format!("p{i}"), json!(megabyte))).collect();
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": "u", "data": data}}))
            .await;
    }
    let mut seen = Vec::new();
    let mut path = app.project_path("/sessions?limit=1000");
    loop {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{}", body["message"]);
        let page = body["result"].as_array().unwrap();
        assert!(
            page.len() == 1,
            "a page of {} sessions of 5 MiB",
            page.len()
        );
        seen.extend(page.iter().map(|s| s["uuid"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                path = app.project_path(&format!("/sessions?limit=1000&cursor={cursor}"))
            }
            None => break,
        }
    }
    assert_eq!(seen, ["big-3", "big-2", "big-1"]);
}

#[tokio::test]
async fn an_attachment_put_reads_an_extended_file_name() {
    let app = TestApp::spawn().await;
    app.create_stored(&json!({"session": {"uuid": "named", "unit_id": "u"}}))
        .await;
    // `filename*=` alone, as clients send non-ASCII names (RFC 5987).
    let body = b"--b\r\nContent-Disposition: form-data; name=\"attachment\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--b--\r\n";
    let response = app
        .request(
            reqwest::Method::PUT,
            &app.project_path("/sessions/named/attachments/doc"),
        )
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let (status, answer) = read(response).await;
    assert_eq!(status, 202, "{answer}");
    let stored = app
        .read_until("named", |s| s["data"]["doc"].is_object())
        .await;
    assert_eq!(stored["data"]["doc"]["filename"], "résumé.pdf");
}
