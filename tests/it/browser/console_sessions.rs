//! Sessions in the console: a photo shown as an image, pages of sessions without gaps or
//! repeats, hostile point names shown as text, and the devices that sent them.

use std::collections::HashSet;

use serde_json::json;

use super::console::Console;
use super::page::PATIENCE;
use crate::common::eventually;

#[tokio::test]
async fn a_session_with_a_photo_shows_the_image() {
    let console = Console::logged_in().await;
    let browser = &console.browser;
    let stored = console.create_with_photo("photo-1").await;

    console.open(&console.session_path("photo-1")).await;
    let rows: Vec<(String, String)> = {
        let names = browser.texts("#points tr.point td.point-name").await;
        let values = browser.texts("#points tr.point td.point-value").await;
        names.into_iter().zip(values).collect()
    };
    assert!(
        rows.contains(&("caption".into(), "north slope, after the rain".into())),
        "{rows:?}"
    );
    assert_eq!(
        browser.text("#upload-id").await,
        stored.upload_id.to_string()
    );
    assert!(!browser.text("#stamp").await.is_empty());
    assert!(!browser.text("#replaced").await.is_empty());
    assert!(browser.exists("img.thumbnail").await);
    let src = browser.attr("img.attachment-image", "src").await.unwrap();
    assert!(src.contains("/attachments/photo"), "{src}");
    // Decoded by the browser: a real image of the photo's size.
    let width = eventually("the photo decoded", PATIENCE, || async {
        let width = browser
            .js("const i = document.querySelector('img.attachment-image'); \
                 return i.complete ? i.naturalWidth : 0")
            .await;
        width.as_u64().filter(|&w| w > 0)
    })
    .await;
    assert_eq!(width, 320);
    browser.screenshots("session-photo").await;
}

#[tokio::test]
async fn sessions_page_through_without_gaps_or_repeats() {
    let console = Console::logged_in().await;
    let browser = &console.browser;
    // Created one after the other: newest first is the reverse.
    let mut created = Vec::new();
    for n in 0..7 {
        let uuid = format!("paged-{n}");
        let unit = format!("unit-{}", n % 3);
        console
            .create(&uuid, &unit, json!({"reading": n.to_string()}))
            .await;
        created.push(uuid);
    }
    created.reverse();

    // The nav asks for a project the first time, then remembers it.
    let list = format!("/projects/{}/sessions", console.project_id());
    browser.click("#nav-sessions").await;
    browser.screenshots("sessions-choose-project").await;
    browser.click("#choose-project button[type=submit]").await;
    assert_eq!(browser.path().await, list);
    console.open("/").await;
    browser.click("#nav-sessions").await;
    assert_eq!(browser.path().await, list);

    // Filtered by device.
    browser
        .fill("#session-filters input[name=unit_id]", "unit-1")
        .await;
    browser.click("#session-filters button#apply-filters").await;
    let mut unit_1: Vec<_> = browser
        .attrs("table#sessions tr[data-uuid]", "data-uuid")
        .await
        .into_iter()
        .flatten()
        .collect();
    unit_1.sort();
    assert_eq!(unit_1, ["paged-1", "paged-4"]);
    assert!(browser.text("#session-count").await.contains('2'));

    let first = format!("{list}?page_size=3");
    console.open(&first).await;
    assert!(browser.text("#session-count").await.contains('7'));
    browser.screenshots("sessions").await;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let uuids: Vec<String> = browser
            .attrs("table#sessions tr[data-uuid]", "data-uuid")
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            browser
                .find_all("table#sessions tr[data-uuid] a.session-link")
                .await
                .len(),
            uuids.len()
        );
        assert!(uuids.len() <= 3, "page {pages}: {uuids:?}");
        seen.extend(uuids);
        if !browser.exists("a#next-page").await {
            break;
        }
        assert!(pages < 5, "more pages than sessions: {seen:?}");
        browser.click("a#next-page").await;
    }
    assert_eq!(pages, 3);
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "repeated: {seen:?}");
    assert_eq!(seen, created, "newest first, none missing");
    browser.screenshots("sessions-last-page").await;

    // A row leads to its session.
    browser
        .click("table#sessions tr[data-uuid] a.session-link")
        .await;
    assert_eq!(browser.path().await, console.session_path(&seen[6]));

    // The uuid search: found leads to the session, unknown says so.
    console.open(&first).await;
    browser
        .fill("#uuid-search input[name=uuid]", "paged-3")
        .await;
    browser.click("#uuid-search [type=submit]").await;
    assert_eq!(browser.path().await, console.session_path("paged-3"));
    console.open(&format!("{first}&uuid=no-such-session")).await;
    assert!(browser.exists("#not-found").await);
    browser.screenshots("sessions-not-found").await;

    // The devices that sent them.
    console
        .open(&format!("/devices?project_id={}", console.project_id()))
        .await;
    let mut units: Vec<_> = browser
        .attrs("table#devices tr[data-unit-id]", "data-unit-id")
        .await
        .into_iter()
        .flatten()
        .collect();
    units.sort();
    assert_eq!(units, ["unit-0", "unit-1", "unit-2"]);
    browser.screenshots("devices").await;
}

#[tokio::test]
async fn hostile_point_names_and_values_show_as_text() {
    let console = Console::logged_in().await;
    let browser = &console.browser;
    let name = "<script>alert('name')</script>";
    let value = "<img src=x onerror=\"alert('value')\"><b>bold</b>";
    console
        .create("hostile-1", "<i>unit</i>", json!({ name: value }))
        .await;

    console.open(&console.session_path("hostile-1")).await;
    assert_eq!(browser.open_alert().await, None, "a script ran");
    assert_eq!(browser.texts("#points td.point-name").await, [name]);
    assert_eq!(browser.texts("#points td.point-value").await, [value]);
    let injected = browser
        .js("return document.querySelectorAll('#points script, #points img, #points b').length")
        .await;
    assert_eq!(injected, 0, "markup from the upload became elements");
    browser.screenshots("session-hostile").await;

    // And in the list of sessions.
    console
        .open(&format!("/projects/{}/sessions", console.project_id()))
        .await;
    assert_eq!(browser.open_alert().await, None, "a script ran");
    assert!(
        browser
            .exists("table#sessions tr[data-uuid='hostile-1']")
            .await
    );
}
