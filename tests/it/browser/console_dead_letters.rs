//! Dead letters in the console: an upload for a project that does not exist yet is listed
//! with its reason, its message shown decoded, and once the project exists it is requeued
//! through the confirmation step and stored.

use super::console::Console;
use crate::common;
use crate::tools_dlq::{create_project_with_id, upload};

#[tokio::test]
async fn a_dead_letter_is_requeued_through_its_confirmation_and_stored() {
    let console = Console::logged_in().await;
    let browser = &console.browser;
    let app = &console.console.app;
    let late = app.project_id + 100;
    let waiting = upload(late, "waits-for-project");
    let upload_id = waiting.stamp.upload_id.to_string();
    common::publish_uploads(app, &[&waiting]).await;

    let row = format!("table#dead-letters tr[data-upload-id='{upload_id}']");
    console.reload_until("/dead-letters", &row).await;
    let reason = browser.text(&format!("{row} .reason")).await;
    assert!(reason.contains(&late.to_string()), "{reason}");
    assert!(
        browser
            .text(&format!("{row} .uuid"))
            .await
            .contains("waits-for-project")
    );
    assert!(
        browser
            .text(&format!("{row} .project"))
            .await
            .contains(&late.to_string())
    );
    browser.screenshots("dead-letters").await;

    browser.click(&format!("{row} a.show-message")).await;
    assert_eq!(browser.path().await, format!("/dead-letters/{upload_id}"));
    let decoded = browser.text("#message-decoded").await;
    assert!(decoded.contains("waits-for-project"), "{decoded}");
    browser.screenshots("dead-letter-message").await;

    // A purge asks first too; cancelled, the dead letter stays.
    console.open("/dead-letters").await;
    browser.click(&format!("{row} form.purge-one button")).await;
    assert_eq!(browser.path().await, "/dead-letters/purge/confirm");
    assert!(browser.exists("form#confirm-form button#confirm").await);
    browser.screenshots("purge-confirm").await;
    browser.click("a#cancel").await;
    assert!(browser.path().await.starts_with("/dead-letters"));
    assert!(browser.exists(&row).await, "gone after a cancelled purge");

    // The cause fixed, the operator requeues it: first the confirmation, then the action.
    create_project_with_id(app, late);
    console.open("/dead-letters").await;
    browser
        .click(&format!("{row} form.requeue-one button.requeue"))
        .await;
    assert_eq!(browser.path().await, "/dead-letters/requeue/confirm");
    let listed = browser.text("#confirm-list").await;
    assert!(
        listed.contains(&upload_id) || listed.contains("waits-for-project"),
        "{listed}"
    );
    assert!(browser.exists("a#cancel").await);
    browser.screenshots("requeue-confirm").await;
    // Nothing happens before the confirmation.
    assert!(
        console
            .stored_now_in(late, "waits-for-project")
            .await
            .is_none()
    );

    // A forged token on the confirmation is refused, and requeues nothing.
    browser
        .js("document.querySelector('#confirm-form input[name=csrf]').value = 'forged'")
        .await;
    browser.click("form#confirm-form button#confirm").await;
    assert!(browser.exists("#csrf-error").await);
    console.open("/dead-letters").await;
    assert!(browser.exists(&row).await, "requeued with a forged token");

    browser
        .click(&format!("{row} form.requeue-one button.requeue"))
        .await;
    browser.click("form#confirm-form button#confirm").await;
    assert!(browser.path().await.starts_with("/dead-letters"));
    let flash = browser.text("#flash").await.to_lowercase();
    assert!(flash.contains('1') && flash.contains("requeued"), "{flash}");
    assert!(
        !browser.exists(&row).await,
        "still listed after the requeue"
    );
    browser.screenshots("dead-letters-requeued").await;

    let stored = console.stored_in(late, "waits-for-project").await;
    assert_eq!(stored.upload_id, waiting.stamp.upload_id);
    console
        .open(&format!("/projects/{late}/sessions/waits-for-project"))
        .await;
    assert_eq!(browser.text("#upload-id").await, upload_id);
}
