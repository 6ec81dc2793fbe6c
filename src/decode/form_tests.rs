#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::DecodeError;
use super::form;
use super::test_support::{EXAMPLE_FORM, example_session, messages, parse, point};
use crate::session::{PointValue, RawSession, RawValue};

fn decode(body: &[u8]) -> Result<RawSession, DecodeError> {
    form::decode(body, crate::session::Limits::default().max_points)
}

fn form(body: &str) -> RawSession {
    decode(body.as_bytes()).unwrap()
}

fn text(name: &str, value: &str) -> (String, RawValue) {
    (name.to_owned(), RawValue::Text(value.to_owned()))
}

fn malformed(body: &[u8]) -> (String, String) {
    match decode(body) {
        Err(DecodeError::Malformed { field, message }) => (field, message),
        other => panic!("{body:?}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn example_decodes_to_the_expected_session() {
    let raw = decode(EXAMPLE_FORM).unwrap();
    assert!(raw.errors.is_empty());
    let session = parse(raw).unwrap();
    let mut want = example_session();
    want.points
        .insert(point("__timezone__"), PointValue::Text("36000".into()));
    assert_eq!(session, want);
    assert_eq!(session.timezone_offset(), Some(36000));
}

#[test]
fn percent_encoded_brackets_and_plus_as_space() {
    let raw = form(
        "session%5Bunit_id%5D=a+b%2Bc&session%5bdata%5d%5bMy+Point%5d=x%20y+z&\
         session[data][s]%5BrawData%5D=AB%2BC&session%5Buuid]=u%3D1",
    );
    assert!(raw.errors.is_empty(), "{:?}", raw.errors);
    assert_eq!(raw.unit_id.as_deref(), Some("a b+c"));
    assert_eq!(raw.uuid.as_deref(), Some("u=1"));
    assert_eq!(
        raw.points,
        vec![
            text("My Point", "x y z"),
            ("s".into(), RawValue::RawData("AB+C".into()))
        ]
    );
}

#[test]
fn values_split_on_the_first_equals_and_keep_stray_percent_signs() {
    let raw = form(
        "session[data][a]=x=y==&session[data][b]=100%&session[data][c]=%zz%4&session[data][d]",
    );
    let want = vec![
        text("a", "x=y=="),
        text("b", "100%"),
        text("c", "%zz%4"),
        text("d", ""),
    ];
    assert_eq!(raw.points, want);
}

#[test]
fn unicode_values_and_empty_pairs() {
    let raw = form("&&session[unit_id]=%E6%BC%A2%F0%9F%98%80&&session[data][p]=caf%C3%A9&");
    assert_eq!(raw.unit_id.as_deref(), Some("漢😀"));
    assert_eq!(raw.points, vec![text("p", "café")]);
    assert_eq!(form(""), RawSession::default());
}

#[test]
fn invalid_utf8_is_malformed_naming_the_field() {
    let (field, message) = malformed(b"session[unit_id]=u&session%5Bdata%5D%5Bp%5D=a%FFb");
    assert_eq!(field, "session[data][p]");
    assert!(message.contains("UTF-8"), "{message}");
    assert_eq!(malformed(b"session[data][p]=\xc3").0, "session[data][p]");
    assert_eq!(malformed(b"session[data][%FF]=x").0, "body");
    assert_eq!(malformed(b"session[\xff]=x").0, "body");
}

#[test]
fn foreign_fields_are_ignored_even_when_not_utf8() {
    let raw = form(
        "other=1&%FF=%FF&x%FF[session]=y&session=z&sessions[uuid]=q&session[foo]=1&session[foo][bar]=2&session[unit_id]=u",
    );
    assert_eq!(raw.unit_id.as_deref(), Some("u"));
    assert!(raw.errors.is_empty() && raw.points.is_empty() && raw.uuid.is_none());
    let raw = decode(b"a=\xff&session[unit_id]=u").unwrap();
    assert_eq!(raw.unit_id.as_deref(), Some("u"));
}

#[test]
fn the_last_occurrence_of_a_repeated_field_wins() {
    let raw = form(
        "session[unit_id]=a&session%5Bunit_id%5D=b&session[data][p]=1&session[data][p]=2&\
         session[data][s][rawData]=AA&session[data][s][rawData]=AB",
    );
    assert!(raw.errors.is_empty(), "{:?}", raw.errors);
    assert_eq!(raw.unit_id.as_deref(), Some("b"));
    assert_eq!(
        raw.points,
        vec![text("p", "2"), ("s".into(), RawValue::RawData("AB".into()))]
    );
    assert_eq!(raw.repeated.count, 3);
    assert_eq!(
        raw.repeated.names,
        [
            "session[unit_id]",
            "session[data][p]",
            "session[data][s][rawData]"
        ]
    );
}

#[test]
fn spellings_of_one_point_are_one_point_and_the_later_wins() {
    let raw = form(
        "session[unit_id]=u&session[data][p]=1&session[data][P]=2&session[data][p][rawData]=AA",
    );
    assert_eq!(
        raw.points,
        vec![("p".into(), RawValue::RawData("AA".into()))]
    );
    assert_eq!(raw.repeated.count, 2);
    let raw = form("session[unit_id]=u&session[data][p][rawData]=AA&session[data][P]=x");
    let session = parse(raw).unwrap();
    assert_eq!(session.points[&point("p")], PointValue::Text("x".into()));
}

#[test]
fn a_rails_checkbox_keeps_the_checked_value() {
    // Rails' check_box: a hidden "0", then the checkbox's "1" when it is checked; with the
    // noise a Rails form adds, `+` for spaces and encoded brackets.
    let body = "utf8=%E2%9C%93&authenticity_token=abc%2B%3D&session%5Bunit_id%5D=unit+7&\
                session[data][agree]=0&session[data][agree]=1&session[data][other]=0&\
                session%5Bdata%5D%5Bnote%5D=two%20words+here&commit=Save+session";
    let raw = form(body);
    assert_eq!(raw.repeated.count, 1);
    let session = parse(raw).unwrap();
    assert_eq!(session.unit_id.as_str(), "unit 7");
    assert_eq!(
        session.points[&point("agree")],
        PointValue::Text("1".into())
    );
    assert_eq!(
        session.points[&point("other")],
        PointValue::Text("0".into())
    );
    assert_eq!(
        session.points[&point("note")],
        PointValue::Text("two words here".into())
    );
    assert_eq!(session.points.len(), 3);
}

#[test]
fn bad_nesting_is_recorded_under_the_name() {
    let names = [
        "session[data]",
        "session[data][]",
        "session[data][p][x]",
        "session[data][p][rawData][x]",
        "session[data][a[b]]",
        "session[uuid][x]",
        "session[unit_id",
        "session[]",
    ];
    let body: Vec<String> = names.iter().map(|name| format!("{name}=v")).collect();
    let raw = form(&body.join("&"));
    assert!(raw.points.is_empty() && raw.uuid.is_none() && raw.unit_id.is_none());
    for name in names {
        assert_eq!(
            messages(&raw.errors, name).len(),
            1,
            "{name}: {:?}",
            raw.errors
        );
    }
}

#[test]
fn points_past_the_limit_are_skipped_unread() {
    let body: String = (0..5_000)
        .map(|i| format!("session[data][p{i}]=x&session[data][p{i}]=y&"))
        .collect();
    let raw = form::decode(format!("{body}session[unit_id]=u").as_bytes(), 10).unwrap();
    assert_eq!(raw.points.len(), 11);
    assert_eq!(raw.unit_id.as_deref(), Some("u"));
    // Past the limit names are no longer remembered, so their repeats go uncounted.
    assert_eq!(raw.repeated.count, 10);
}
