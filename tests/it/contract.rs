//! The OpenAPI document checked by tools of its own: it validates as OpenAPI 3.1, and
//! schemathesis drives every route of a running front with requests generated from it,
//! signed like a device's; every answer must match the document and none may be a 5xx.
//! `make test` installs the tools (scripts/contract_tools.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestApp;
use serde_json::json;

/// Generated requests per operation and phase; the whole run stays under a minute.
const EXAMPLES_PER_OPERATION: &str = "5";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A tool of the contract virtualenv (`CONTRACT_VENV`, default `target/contract-venv`).
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("CONTRACT_VENV")
        .map_or_else(|| root().join("target/contract-venv"), PathBuf::from);
    let path = venv.join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/contract_tools.sh` (make test does)",
        path.display()
    );
    path
}

#[test]
fn the_document_is_valid_openapi() {
    let output = Command::new(tool("openapi-spec-validator"))
        .arg(root().join("docs/openapi.json"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_requests_get_documented_answers_and_no_5xx() {
    let app = TestApp::spawn().await;
    // One stored session, so that reads and updates of it are generated too.
    let stored = app
        .create_stored(&json!({"session": {"uuid": "contract-1", "unit_id": "u",
            "data": {"p": "x", "s": {"rawData": "AAE="}}}}))
        .await;
    assert_eq!(stored.unit_id, "u");
    let schemathesis = tool("schemathesis");
    // schemathesis keeps a cache in its working directory: a scratch one, not the repository.
    let scratch = std::env::temp_dir().join(format!("intake-contract-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut run = Command::new(schemathesis);
    run.current_dir(&scratch)
        .env("PYTHONPATH", root().join("tests/contract"))
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("INTAKE_USER", &app.username)
        .env("INTAKE_SECRET", &app.secret)
        .env("INTAKE_PROJECT", app.project_id.to_string())
        .arg("run")
        .arg(root().join("docs/openapi.json"))
        .arg("--url")
        .arg(app.url(""))
        .args([
            "--mode",
            "positive",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--max-examples",
            EXAMPLES_PER_OPERATION,
            "--seed",
            "1",
            "--no-color",
        ]);
    let output = tokio::task::spawn_blocking(move || run.output().unwrap())
        .await
        .unwrap();
    std::fs::remove_dir_all(&scratch).unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The summary names the operations tested; shown with `--no-capture`.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "schemathesis found answers that break the document:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
