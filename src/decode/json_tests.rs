#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::DecodeError;
use super::json;
use super::test_support::{EXAMPLE_JSON, example_session, messages, parse, point};
use crate::session::{PointValue, RawSession, RawValue};

fn decode(body: &[u8]) -> Result<RawSession, DecodeError> {
    json::decode(body, crate::session::Limits::default().max_points)
}

fn session(inner: &str) -> RawSession {
    decode(format!(r#"{{"session": {inner}}}"#).as_bytes()).unwrap()
}

fn points(data: &str) -> Vec<(String, RawValue)> {
    session(&format!(r#"{{"unit_id": "u", "data": {data}}}"#)).points
}

fn text(value: &str) -> RawValue {
    RawValue::Text(value.into())
}

fn malformed_field(body: &str) -> String {
    match decode(body.as_bytes()) {
        Err(DecodeError::Malformed { field, .. }) => field,
        other => panic!("{body}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn example_decodes_to_the_expected_session() {
    let raw = decode(EXAMPLE_JSON).unwrap();
    assert!(raw.errors.is_empty());
    assert_eq!(parse(raw).unwrap(), example_session());
}

#[test]
fn scalars_become_their_json_text() {
    let got =
        points(r#"{"s": "x y", "i": 12, "neg": -3, "f": 1.5, "e": 1e3, "t": true, "n": null}"#);
    let want = [
        ("s", "x y"),
        ("i", "12"),
        ("neg", "-3"),
        ("f", "1.5"),
        ("e", "1000.0"),
    ]
    .into_iter()
    .chain([("t", "true"), ("n", "")])
    .map(|(name, value)| (name.to_owned(), text(value)))
    .collect::<Vec<_>>();
    assert_eq!(got, want);
}

#[test]
fn raw_data_and_invalid_values() {
    let got = points(
        r#"{"r": {"rawData": "AAEC"}, "a": [1, 2], "o": {"x": 1}, "bad": {"rawData": 5},
            "extra": {"rawData": "AA", "x": 1}, "twice": {"rawData": "AA", "rawData": 1},
            "empty": {}, "nested": {"rawData": {"rawData": "AA"}}}"#,
    );
    assert_eq!(got[0], ("r".into(), RawValue::RawData("AAEC".into())));
    for (name, value) in &got[1..] {
        assert!(
            matches!(value, RawValue::Invalid(message) if message.contains("rawData")),
            "{name}: {value:?}"
        );
    }
    let errors = parse(session(r#"{"unit_id": "u", "data": {"a": [1]}}"#)).unwrap_err();
    assert_eq!(messages(&errors, "session[data][a]").len(), 1);
}

#[test]
fn the_last_duplicate_point_wins_whatever_its_case() {
    let got = points(r#"{"p": "1", "q": "x", "p": "2", "P": "3"}"#);
    assert_eq!(got, vec![("P".into(), text("3")), ("q".into(), text("x"))]);
    let raw = session(r#"{"unit_id": "u", "data": {"p": {"rawData": "AA"}, "P": "2"}}"#);
    assert_eq!(raw.repeated.count, 1);
    assert_eq!(raw.repeated.names, ["session[data][P]"]);
    let session = parse(raw).unwrap();
    assert_eq!(session.points[&point("p")], PointValue::Text("2".into()));
}

#[test]
fn the_last_duplicate_key_wins_as_in_ruby() {
    let raw = session(
        r#"{"unit_id": [1], "unit_id": "b", "saved": 5, "saved": null,
            "data": {"p": "x"}, "data": {"q": {"rawData": "AA", "rawData": "AB"}}}"#,
    );
    assert!(raw.errors.is_empty(), "{:?}", raw.errors);
    assert_eq!(raw.unit_id.as_deref(), Some("b"));
    assert_eq!(raw.saved, None);
    // A repeated `data` object replaces the earlier one whole, as a Ruby hash does.
    assert_eq!(
        raw.points,
        vec![("q".into(), RawValue::RawData("AB".into()))]
    );
    assert_eq!(raw.repeated.count, 4);
    assert_eq!(
        raw.repeated.names,
        [
            "session[unit_id]",
            "session[saved]",
            "session[data]",
            "session[data][q][rawData]"
        ]
    );
    let raw = decode(br#"{"session": {"unit_id": "a"}, "session": {"unit_id": "b"}}"#).unwrap();
    assert_eq!(raw.unit_id.as_deref(), Some("b"));
    assert_eq!(raw.repeated.names, ["session"]);
}

#[test]
fn times_keep_their_text_and_bad_numbers_fail_validation() {
    let raw = session(r#"{"unit_id": "u", "created": 1234567890, "saved": "1234567891"}"#);
    let parsed = parse(raw).unwrap();
    assert_eq!(
        (parsed.created, parsed.saved),
        (1_234_567_890, 1_234_567_891)
    );
    for bad in [
        "1.5",
        "-1",
        "1e9",
        "1E9",
        "12345678901234567890123",
        "\"abc\"",
    ] {
        let raw = session(&format!(r#"{{"unit_id": "u", "created": {bad}}}"#));
        assert!(raw.errors.is_empty(), "{bad}");
        let errors = parse(raw).unwrap_err();
        assert_eq!(messages(&errors, "session[created]").len(), 1, "{bad}");
    }
}

#[test]
fn wrong_field_types_are_recorded() {
    let raw = session(r#"{"uuid": 5, "unit_id": [], "created": true, "saved": {}, "data": "x"}"#);
    for field in ["uuid", "unit_id", "created", "saved", "data"] {
        let found = messages(&raw.errors, &format!("session[{field}]"));
        assert_eq!(found.len(), 1, "{field}: {found:?}");
    }
    assert!(messages(&raw.errors, "session[uuid]")[0].contains("not a number"));
    assert!(messages(&raw.errors, "session[created]")[0].contains("unix seconds"));
}

#[test]
fn numeric_unit_id_and_nulls() {
    let raw = session(r#"{"uuid": null, "unit_id": 42, "created": null, "data": null}"#);
    assert!(raw.errors.is_empty());
    assert_eq!(
        (raw.uuid, raw.unit_id, raw.created),
        (None, Some("42".into()), None)
    );
}

#[test]
fn unknown_keys_are_ignored() {
    let raw = decode(
        br#"{"before": [{"session": 1}], "session": {"unit_id": "u", "foo": {"data": {"x": 1}},
             "UUID": 7}, "after": null}"#,
    )
    .unwrap();
    assert_eq!(raw.unit_id.as_deref(), Some("u"));
    assert!(raw.errors.is_empty() && raw.points.is_empty() && raw.uuid.is_none());
}

#[test]
fn missing_or_non_object_session_is_malformed() {
    for body in [
        "{}",
        r#"{"Session": {}}"#,
        r#"{"session": []}"#,
        r#"{"session": "x"}"#,
        r#"{"session": null}"#,
        "[]",
        "42",
        r#"{"session": {}, "session": 5}"#,
    ] {
        assert_eq!(malformed_field(body), "session", "{body}");
    }
}

#[test]
fn invalid_json_is_malformed_body_with_position() {
    for body in [
        "",
        "{",
        r#"{"session": {"unit_id": "u",}}"#,
        "{} x",
        "\u{feff}\u{feff}{}",
        "{'a': 1}",
    ] {
        assert_eq!(malformed_field(body), "body", "{body:?}");
    }
    let Err(DecodeError::Malformed { message, .. }) = decode(b"{\n  \"session\": {\"a\" 1}}")
    else {
        panic!("expected Malformed");
    };
    assert!(message.contains("line 2 column"), "{message}");
    let invalid_utf8 = b"{\"session\": {\"unit_id\": \"\xff\"}}";
    assert!(
        matches!(decode(invalid_utf8), Err(DecodeError::Malformed { field, .. }) if field == "body")
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    for depth in [200, 100_000] {
        for prefix in [
            r#"{"session": {"data": {"p": "#,
            r#"{"other": "#,
            r#"{"session": {"x": "#,
        ] {
            let body = format!("{prefix}{}", "[".repeat(depth));
            assert_eq!(malformed_field(&body), "body");
            let body = format!("{prefix}{}", r#"{"a":"#.repeat(depth));
            assert_eq!(malformed_field(&body), "body");
        }
    }
    // Nesting within the limit is fine, just invalid as a value.
    let nested = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(
        &points(&format!(r#"{{"p": {nested}}}"#))[0].1,
        RawValue::Invalid(_)
    ));
}

#[test]
fn a_leading_byte_order_mark_is_ignored() {
    let raw = decode("\u{feff}{\"session\": {\"unit_id\": \"u\"}}".as_bytes()).unwrap();
    assert_eq!(raw.unit_id.as_deref(), Some("u"));
}

#[test]
fn escapes_and_unicode_are_decoded() {
    let got = points(r#"{"caf\u00e9": "a\"b\\c\n\ud83d\ude00 漢"}"#);
    assert_eq!(got, vec![("café".into(), text("a\"b\\c\n😀 漢"))]);
}

#[test]
fn points_past_the_limit_are_skipped_unread() {
    let data: Vec<String> = (0..5_000).map(|i| format!(r#""p{i}": "x""#)).collect();
    let body = format!(
        r#"{{"session": {{"unit_id": "u", "data": {{{}}}}}}}"#,
        data.join(",")
    );
    let raw = json::decode(body.as_bytes(), 10).unwrap();
    assert_eq!(raw.points.len(), 11);
    assert!(json::decode(b"{\"session\": {}} trailing", 10).is_err());
}
