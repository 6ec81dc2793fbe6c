//! Every request body in `examples/` (the ones docs/API.md shows) is accepted verbatim and
//! stored as it says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::Path;

use common::{TestApp, read};
use serde_json::json;

/// The boundary `examples/create-session.multipart` is written with.
const BOUNDARY: &str = "intake-example";

/// The content type each example is posted with, by its extension.
fn content_type(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json".into(),
        Some("form") => "application/x-www-form-urlencoded".into(),
        Some("multipart") => format!("multipart/form-data; boundary={BOUNDARY}"),
        other => panic!("{}: no content type for {other:?}", path.display()),
    }
}

fn examples() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e != "md"))
        .collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn every_example_is_accepted_verbatim_and_stored() {
    let app = TestApp::spawn().await;
    let paths = examples();
    assert!(paths.len() >= 3, "{paths:?}");
    for path in paths {
        let body = std::fs::read(&path).unwrap();
        let response = app
            .signed(app.http.post(app.sessions_url()))
            .header("content-type", content_type(&path))
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, answer) = read(response).await;
        assert_eq!(status, 202, "{}: {answer}", path.display());
        let uuid = answer["result"]["uuid"].as_str().unwrap().to_owned();
        let stored = app.stored(&uuid).await;
        assert_eq!(stored.unit_id, "mydevice", "{}", path.display());
        assert_eq!(stored.created, 1_234_567_890, "{}", path.display());
    }
}

#[tokio::test]
async fn the_multipart_example_keeps_its_file_and_rawdata() {
    let app = TestApp::spawn().await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/create-session.multipart");
    let response = app
        .signed(app.http.post(app.sessions_url()))
        .header("content-type", content_type(&path))
        .body(std::fs::read(&path).unwrap())
        .send()
        .await
        .unwrap();
    let (status, answer) = read(response).await;
    assert_eq!(status, 202, "{answer}");
    let stored = app.stored("43214321-43214321-4321-4321-432143214321").await;
    assert_eq!(
        stored.points,
        json!({"point1": "value1", "__timezone__": "36000"})
    );
    assert_eq!(stored.timezone_offset, Some(36000));
    let attachments: Vec<_> = stored
        .attachments
        .iter()
        .map(|(point, embedded, filename, content_type, _)| {
            (
                point.as_str(),
                *embedded,
                filename.as_deref(),
                content_type.as_str(),
            )
        })
        .collect();
    assert_eq!(
        attachments,
        [
            ("photo1", false, Some("note.txt"), "text/plain"),
            ("sketch1", true, None, "application/octet-stream"),
        ]
    );
    assert_eq!(
        stored.attachments[0].4,
        b"A file part: its bytes, file name and content type are kept.\n"
    );
}
