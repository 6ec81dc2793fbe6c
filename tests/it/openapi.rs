//! The OpenAPI document against the router it describes: served as the repository's copy,
//! the same paths, methods and query parameters on both sides.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestApp, read};
use reqwest::Method;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The document's operations: path → methods.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let paths = doc["paths"].as_object().unwrap();
    paths
        .iter()
        .map(|(path, item)| {
            let methods = METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (*method).to_owned())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The query parameters of one operation, its path item's included.
fn query_parameters(doc: &Value, path: &str, method: &str) -> BTreeSet<String> {
    let item = &doc["paths"][path];
    let listed = [&item["parameters"], &item[method]["parameters"]];
    listed
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter(|parameter| parameter["in"] == "query")
        .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
        .collect()
}

fn concrete(path: &str, project_id: i64) -> String {
    path.replace("{project_id}", &project_id.to_string())
        .replace("{uuid}", "openapi-probe")
        .replace("{point}", "p")
}

#[tokio::test]
async fn the_served_document_is_the_repository_copy() {
    let app = TestApp::front_only().await;
    let response = app.http.get(app.url("/api/v1/openapi.json")).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 200, "served without auth");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "content type"
    );
    let served: Value = response.json().await.unwrap();
    assert!(
        served == document(),
        "GET /api/v1/openapi.json differs from docs/openapi.json"
    );
    assert_eq!(served["openapi"], "3.1.0");
}

#[tokio::test]
async fn the_document_and_the_router_have_the_same_paths_and_methods() {
    let doc = document();
    let documented = documented(&doc);
    let routed: BTreeSet<String> = intake::front::routes::all()
        .paths()
        .iter()
        .cloned()
        .collect();
    let in_doc: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(
        routed.difference(&in_doc).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "routes missing from docs/openapi.json"
    );
    assert_eq!(
        in_doc.difference(&routed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented paths the router lacks"
    );
    // Which methods a path has: the router answers 405 for the others, whatever the auth.
    let app = TestApp::front_only().await;
    for (path, methods) in &documented {
        for method in METHODS {
            let url = app.url(&concrete(path, app.project_id));
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = app.http.request(verb, url).send().await.unwrap().status();
            let routed = status != 405;
            assert_eq!(
                routed,
                methods.contains(method),
                "{method} {path}: the router answers {status}, the document says {methods:?}"
            );
        }
    }
}

/// A value of each query parameter the front checks that it must refuse, naming it.
const INVALID: [(&str, &str); 6] = [
    ("deleted", "maybe"),
    ("wait", "later"),
    ("limit", "0"),
    ("cursor", "not-a-cursor"),
    ("since", "yesterday"),
    ("until", "tomorrow"),
];

#[tokio::test]
async fn the_document_lists_the_query_parameters_the_front_reads() {
    let doc = document();
    let app = TestApp::front_only().await;
    for (path, methods) in documented(&doc) {
        for method in methods {
            let listed = query_parameters(&doc, &path, &method);
            for (name, value) in INVALID {
                let url = format!(
                    "{}?{name}={value}",
                    app.url(&concrete(&path, app.project_id))
                );
                let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let request = app
                    .signed(app.http.request(verb, url))
                    .header("content-type", "application/json")
                    .body(r#"{"session": {"unit_id": "u"}}"#);
                let response = request.send().await.unwrap();
                // The export streams ndjson or csv; every refusal is a JSON envelope.
                let streamed = response.status() == 200
                    && !response.headers()["content-type"]
                        .to_str()
                        .unwrap()
                        .starts_with("application/json");
                let (status, body) = if streamed {
                    (200, Value::Null)
                } else {
                    read(response).await
                };
                let refused = status == 400 && body["errors"].get(name).is_some();
                assert_eq!(
                    refused,
                    listed.contains(name),
                    "{method} {path}?{name}={value}: {status} {body}; documented: {listed:?}"
                );
            }
        }
    }
}
