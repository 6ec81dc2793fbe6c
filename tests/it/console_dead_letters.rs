//! Dead letters through the console: listed, shown decoded, requeued after a confirmation
//! page once their cause is fixed — and then stored — or purged by filter.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::{self, eventually};
use crate::console_harness::TestConsole;
use crate::tools_dlq::{create_project_with_id, upload};

#[tokio::test]
async fn console_requeues_a_dead_letter_that_is_then_stored_and_purges_by_filter() {
    let console = TestConsole::spawn().await;
    let app = &console.app;
    let late = app.project_id + 100;
    let never = app.project_id + 200;
    let waiting = upload(late, "waits-for-console");
    let orphan = upload(never, "<script>orphan</script>");
    common::publish_uploads(app, &[&waiting, &orphan]).await;
    let login = console.login().await;
    let waiting_id = waiting.stamp.upload_id.to_string();
    let orphan_id = orphan.stamp.upload_id.to_string();

    let html = eventually(
        "two dead letters listed",
        Duration::from_secs(30),
        || async {
            let (_, html) = console.page(&login, "/dead-letters").await;
            (html.matches("data-upload-id=").count() >= 2).then_some(html)
        },
    )
    .await;
    assert!(
        html.contains(&format!("data-upload-id=\"{waiting_id}\"")),
        "{html}"
    );
    assert!(html.contains("class=\"requeue-one inline-form\""), "{html}");
    assert!(!html.contains("<script>orphan"), "{html}");

    let (status, shown) = console
        .page(&login, &format!("/dead-letters/{orphan_id}"))
        .await;
    assert_eq!(status, 200);
    assert!(shown.contains("id=\"message-decoded\""), "{shown}");
    assert!(
        shown.contains("&lt;script&gt;orphan&lt;/script&gt;"),
        "{shown}"
    );

    // The filter shows what it matches; the form's CSRF field never stays in the address.
    let (_, filtered) = console
        .page(&login, &format!("/dead-letters?project_id={never}"))
        .await;
    assert!(filtered.contains(&orphan_id), "{filtered}");
    assert!(!filtered.contains(&waiting_id), "{filtered}");
    let response = console
        .get(
            &login,
            &format!("/dead-letters?project_id={never}&csrf={}", login.csrf),
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("/dead-letters?project_id={never}").as_str()
    );

    create_project_with_id(app, late);
    let form = [
        ("csrf", login.csrf.as_str()),
        ("upload_id", waiting_id.as_str()),
    ];
    let response = console
        .post(&login, "/dead-letters/requeue/confirm", &form)
        .await;
    assert_eq!(response.status(), 200);
    let confirm = response.text().await.unwrap();
    assert!(confirm.contains("id=\"confirm-list\""), "{confirm}");
    assert!(confirm.contains(&waiting_id), "{confirm}");
    assert!(!confirm.contains(&orphan_id), "{confirm}");
    assert!(confirm.contains("id=\"confirm-form\""), "{confirm}");
    assert!(confirm.contains("id=\"cancel\""), "{confirm}");
    // Confirming is what acts: nothing was requeued yet.
    assert!(common::load_session(&app.db.url, late, "waits-for-console").is_none());

    let response = console.post(&login, "/dead-letters/requeue", &form).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = console.page(&login, &location).await;
    assert!(html.contains("id=\"flash\""), "{html}");
    assert!(html.contains("1 dead letters requeued"), "{html}");
    assert!(
        !html.contains(&format!("data-upload-id=\"{waiting_id}\"")),
        "{html}"
    );

    let url = app.db.url.clone();
    eventually(
        "the requeued upload is stored",
        Duration::from_secs(30),
        || {
            let url = url.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    common::load_session(&url, late, "waits-for-console")
                })
                .await
                .unwrap()
            }
        },
    )
    .await;

    // Purge by filter: the confirm page lists the orphan, then it is gone.
    let never_text = never.to_string();
    let filter = [
        ("csrf", login.csrf.as_str()),
        ("project_id", never_text.as_str()),
    ];
    let response = console
        .post(&login, "/dead-letters/purge/confirm", &filter)
        .await;
    let confirm = response.text().await.unwrap();
    assert!(confirm.contains(&orphan_id), "{confirm}");
    let response = console.post(&login, "/dead-letters/purge", &filter).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (_, html) = console.page(&login, &location).await;
    assert!(html.contains("1 dead letters purged"), "{html}");
    assert!(!html.contains("data-upload-id=\""), "{html}");
}
