//! The report against recorded outputs (`testdata/bench-quick/`): raw outputs laid out as a
//! run leaves them (three closed-loop rounds, a soak, a profile; figures made up), and the
//! results.json and summary.md that the earlier jq report wrote from them. The figures must not change with the language that computes them.

#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::*;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/bench-quick")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(testdata(name)).expect("recorded fixture")
}

/// The raw outputs (bundled as `{"file name": "content"}`), unpacked into a fresh
/// directory as a run leaves them.
fn unpacked_run() -> PathBuf {
    let files: BTreeMap<String, String> =
        serde_json::from_str(&read("inputs.json")).expect("inputs.json is a map of files");
    let dir = std::env::temp_dir().join(format!("intake-bench-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("scratch file");
    }
    dir
}

/// Panics with the path of the first difference; numbers compare as numbers (7.0 is 7).
fn assert_same(path: &str, actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (
                a.as_f64().unwrap_or(f64::NAN),
                e.as_f64().unwrap_or(f64::NAN),
            );
            assert!(
                (a - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{path}: {a} instead of {e}"
            );
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: length");
            for (index, (a, e)) in a.iter().zip(e).enumerate() {
                assert_same(&format!("{path}[{index}]"), a, e);
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            let keys = |map: &Map<String, Value>| map.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(e), "{path}: fields");
            for (key, e) in e {
                assert_same(&format!("{path}.{key}"), &a[key], e);
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

#[test]
fn a_recorded_run_gives_the_recorded_figures() {
    let dir = unpacked_run();
    let inputs = Inputs::read(&dir);
    std::fs::remove_dir_all(&dir).ok();
    let expected: Value = serde_json::from_str(&read("results.json")).expect("results.json");
    let results = results(&inputs.expect("readable run"), expected["machine"].clone());
    let actual = serde_json::to_value(results).expect("serializable");
    assert_same("results", &actual, &expected);
}

#[test]
fn a_recorded_results_file_gives_the_recorded_summary() {
    let results: Value = serde_json::from_str(&read("results.json")).expect("results.json");
    let expected = read("summary.md");
    let actual = summary(&results);
    for (line, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "summary.md line {}", line + 1);
    }
    assert_eq!(actual, expected);
}

#[test]
fn outcomes_are_summed_over_the_phases_by_label() {
    let phase = "# TYPE intake_uploads_total counter\n\
                 intake_uploads_total{outcome=\"stored\"} 10\n\
                 intake_uploads_total{outcome=\"superseded\"} 2\n\
                 intake_publish_total{result=\"confirmed\"} 12\n";
    let outcomes = consumer_outcomes([phase, phase]);
    assert_eq!(
        Value::Object(outcomes),
        serde_json::json!({"stored": 20, "superseded": 4})
    );
}
