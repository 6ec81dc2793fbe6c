//! The console's data pages as an operator sees them: device input shown as text, never
//! markup; attachments served with their type and safe headers; the session list paged
//! by keyset without gaps or repeats; devices with their counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use crate::common::multipart::file_part;
use crate::console_harness::TestConsole;
use serde_json::json;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

#[tokio::test]
async fn console_shows_a_hostile_point_name_and_value_as_text() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    app.create_stored(&json!({"session": {
        "uuid": "hostile-1",
        "unit_id": "<b>unit</b>",
        "data": {"<script>alert(1)</script>": "<img src=x onerror=alert(2)>"},
    }}))
    .await;
    let login = console.login().await;
    let path = format!("/projects/{}/sessions/hostile-1", app.project_id);
    let (status, html) = console.page(&login, &path).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    assert!(html.contains("class=\"point\""), "{html}");
    let (_, list) = console
        .page(&login, &format!("/projects/{}/sessions", app.project_id))
        .await;
    assert!(list.contains("&lt;b&gt;unit&lt;/b&gt;"), "{list}");
    assert!(!list.contains("<b>unit"), "{list}");
}

#[tokio::test]
async fn console_serves_attachments_with_their_type_and_safe_headers() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    let form = reqwest::multipart::Form::new()
        .text("session[uuid]", "files-1")
        .text("session[unit_id]", "camera-7")
        .text("session[data][caption]", "door")
        .part(
            "session[data][photo]",
            file_part(PNG, "door.png", "image/png"),
        )
        .part(
            "session[data][page]",
            file_part(&b"<script>alert(1)</script>"[..], "page.html", "text/html"),
        );
    app.post_multipart_stored(form, "files-1").await;
    let login = console.login().await;
    let base = format!("/projects/{}/sessions/files-1", app.project_id);
    let (_, html) = console.page(&login, &base).await;
    assert!(
        html.contains("class=\"attachment-image thumbnail\""),
        "{html}"
    );
    assert!(
        html.contains(&format!("src=\"{base}/attachments/photo\"")),
        "{html}"
    );
    assert!(html.contains("class=\"attachment-download\""), "{html}");
    assert!(html.contains("download=\"page.html\""), "{html}");

    let image = console
        .get(&login, &format!("{base}/attachments/photo"))
        .await;
    assert_eq!(image.status(), 200);
    let headers = image.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"door.png\"")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);

    let page = console
        .get(&login, &format!("{base}/attachments/page"))
        .await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"page.html\"")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );

    let missing = console
        .get(&login, &format!("{base}/attachments/nothing"))
        .await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("nothing"),
        "{body}"
    );
}

fn uuids_of(html: &str) -> Vec<String> {
    html.split("data-uuid=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

fn next_of(html: &str) -> Option<String> {
    let start = html.find("id=\"next-page\" href=\"")? + "id=\"next-page\" href=\"".len();
    Some(
        html[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn console_session_pages_follow_the_keyset_without_gaps_or_repeats() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    let mut written = Vec::new();
    for n in 0..11 {
        let uuid = format!("page-{n:02}");
        let unit = if n % 2 == 0 { "even" } else { "odd" };
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": unit}}))
            .await;
        written.push(uuid);
    }
    let login = console.login().await;
    let mut path = format!("/projects/{}/sessions?page_size=3", app.project_id);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (status, html) = console.page(&login, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("11 sessions match"), "{html}");
        let uuids = uuids_of(&html);
        assert!(uuids.len() <= 3);
        seen.extend(uuids);
        pages += 1;
        match next_of(&html) {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats: {seen:?}");
    written.reverse();
    assert_eq!(seen, written, "newest first, nothing missing");

    // Filters carry over to the next page.
    let first = format!(
        "/projects/{}/sessions?page_size=2&unit_id=odd",
        app.project_id
    );
    let (_, html) = console.page(&login, &first).await;
    assert!(html.contains("5 sessions match"), "{html}");
    assert_eq!(uuids_of(&html), ["page-09", "page-07"]);
    let (_, html) = console.page(&login, &next_of(&html).unwrap()).await;
    assert_eq!(uuids_of(&html), ["page-05", "page-03"]);

    // The uuid search goes to the session, or says it is not there.
    let search = format!("/projects/{}/sessions?uuid=page-04", app.project_id);
    let response = console.get(&login, &search).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/projects/{}/sessions/page-04", app.project_id).as_str()
    );
    let search = format!("/projects/{}/sessions?uuid=nope", app.project_id);
    let (status, html) = console.page(&login, &search).await;
    assert_eq!(status, 404);
    assert!(html.contains("id=\"not-found\""), "{html}");

    // A bad filter is named.
    let (status, html) = console
        .page(
            &login,
            &format!("/projects/{}/sessions?since=yesterday", app.project_id),
        )
        .await;
    assert_eq!(status, 400);
    assert!(html.contains("since"), "{html}");
}

#[tokio::test]
async fn console_devices_show_their_sessions_and_silence() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    for (uuid, unit) in [
        ("d-1", "tablet-a"),
        ("d-2", "tablet-a"),
        ("d-3", "tablet-b"),
    ] {
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": unit}}))
            .await;
    }
    let login = console.login().await;
    let (status, html) = console
        .page(&login, &format!("/devices?project_id={}", app.project_id))
        .await;
    assert_eq!(status, 200, "{html}");
    let row = html.split("data-unit-id=\"tablet-a\"").nth(1).unwrap();
    let count = row.split("class=\"session-count\">").nth(1).unwrap();
    assert!(count.starts_with("2<"), "{row}");
    assert!(!html.contains("class=\"silent\""), "{html}");
    let (_, html) = console
        .page(
            &login,
            &format!("/devices?project_id={}&silent_minutes=0", app.project_id),
        )
        .await;
    assert_eq!(html.matches("class=\"silent\"").count(), 2, "{html}");
}

#[tokio::test]
async fn console_lists_deleted_sessions_only_when_asked_and_marks_them() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    for uuid in ["kept", "gone"] {
        app.create_stored(&json!({"session": {"uuid": uuid, "unit_id": "u"}}))
            .await;
    }
    let path = app.project_path("/sessions/gone");
    let (status, _) = app.send_json(reqwest::Method::DELETE, &path, None).await;
    assert_eq!(status, 202);
    app.read_until("gone", |s| s["is_deleted"] == true).await;
    let login = console.login().await;
    let list = format!("/projects/{}/sessions", app.project_id);
    for (query, wanted) in [
        ("", vec!["kept"]),
        ("?deleted=include", vec!["gone", "kept"]),
        ("?deleted=only", vec!["gone"]),
    ] {
        let (status, html) = console.page(&login, &format!("{list}{query}")).await;
        assert_eq!(status, 200, "{html}");
        let mut uuids = uuids_of(&html);
        uuids.sort();
        assert_eq!(uuids, wanted, "{query}");
        assert!(
            html.contains(&format!("{} sessions match", wanted.len())),
            "{html}"
        );
    }
    let (status, html) = console.page(&login, &format!("{list}/gone")).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"deleted\""), "{html}");
    let (_, html) = console.page(&login, &format!("{list}/kept")).await;
    assert!(!html.contains("id=\"deleted\""), "{html}");
}
