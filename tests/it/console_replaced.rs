//! Whether a session was replaced, as the console's session page tells an operator: a later
//! create of the same uuid replaces the stored session, whether it went through the plain
//! upsert or through the merge with an earlier update's stamps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::Method;
use serde_json::json;

use crate::console_harness::TestConsole;

fn replaced_text(html: &str) -> &str {
    let start = html.find("id=\"replaced\">").unwrap() + "id=\"replaced\">".len();
    let rest = html.get(start..).unwrap();
    rest.get(..rest.find('<').unwrap()).unwrap()
}

#[tokio::test]
async fn console_says_whether_a_session_was_replaced() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    let session = |uuid: &str, value: &str| json!({"session": {"uuid": uuid, "unit_id": "u", "data": {"v": value}}});
    app.create_stored(&session("once", "1")).await;
    app.create_stored(&session("twice", "1")).await;
    app.create_stored(&session("twice", "2")).await;
    // An update leaves stamps on the row, so the next create goes through the merge.
    app.create_stored(&session("merged", "1")).await;
    let path = app.project_path("/sessions/merged");
    let update = json!({"session": {"data": {"w": "x"}}});
    let (status, body) = app.send_json(Method::PUT, &path, Some(update)).await;
    assert_eq!(status, 202, "{body}");
    app.read_until("merged", |s| s["data"]["w"] == "x").await;
    app.create_stored(&session("merged", "2")).await;

    let login = console.login().await;
    let page = |uuid: &str| format!("/projects/{}/sessions/{uuid}", app.project_id);
    let (status, html) = console.page(&login, &page("once")).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(replaced_text(&html), "never replaced");
    for uuid in ["twice", "merged"] {
        let (status, html) = console.page(&login, &page(uuid)).await;
        assert_eq!(status, 200, "{html}");
        assert!(
            replaced_text(&html).starts_with("replaced by the upload accepted 20"),
            "{uuid}: {}",
            replaced_text(&html)
        );
    }
}
