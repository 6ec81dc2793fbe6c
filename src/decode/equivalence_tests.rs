//! The three encodings of one session must decode to the same parsed [`Session`], repeated
//! fields included: the last occurrence wins in each, and each counts the same repeats.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

use super::test_support::{BOUNDARY, NOW, Part, decode_multipart, multipart_body, parse, point};
use super::{MultipartLimits, form, json};
use crate::session::{MAX_UNIX_SECONDS, PointValue, Session, SessionUuid, UnitId, encode_base64};

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Case {
    uuid: String,
    unit_id: String,
    created: Option<i64>,
    saved: Option<i64>,
    points: Vec<(String, Value)>,
    /// Stale occurrences sent before the real ones: (point index, upper-cased, value).
    earlier: Vec<(usize, bool, Value)>,
    /// A stale unit id sent before the real one.
    earlier_unit_id: Option<String>,
    plus_for_space: bool,
    chunk: usize,
}

const TEXT: &str = "[a-zA-Z0-9 &=+%;:/?#\\[\\]\"\\\\\t\r\néü漢😀-]{0,40}";

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        TEXT.prop_map(Value::Text),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Raw),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let time = prop::option::of(0..=MAX_UNIX_SECONDS);
    let names = prop::collection::vec(("[a-zA-Z0-9_]{1,20}", value()), 0..8);
    (
        "[A-Za-z0-9_.:{}-]{1,40}",
        "[A-Za-z0-9 _.éü漢-]{1,30}",
        (time.clone(), time),
        names,
        (
            prop::collection::vec((0_usize..8, any::<bool>(), value()), 0..4),
            prop::option::of("[a-z]{1,8}"),
        ),
        any::<bool>(),
        1_usize..64,
    )
        .prop_map(
            |(
                uuid,
                unit_id,
                (created, saved),
                mut points,
                (mut earlier, earlier_unit_id),
                plus_for_space,
                chunk,
            )| {
                let mut seen = std::collections::HashSet::new();
                points.retain(|(name, _)| seen.insert(name.to_lowercase()));
                earlier.retain(|(index, _, _)| *index < points.len());
                Case {
                    uuid,
                    unit_id,
                    created,
                    saved,
                    points,
                    earlier,
                    earlier_unit_id,
                    plus_for_space,
                    chunk,
                }
            },
        )
}

fn expected(case: &Case) -> Session {
    let points: BTreeMap<_, _> = case
        .points
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Text(text) => PointValue::Text(text.clone()),
                Value::Raw(bytes) => PointValue::Raw(bytes.clone()),
            };
            (point(name), value)
        })
        .collect();
    Session {
        uuid: SessionUuid::parse(&case.uuid).unwrap(),
        unit_id: UnitId::parse(&case.unit_id).unwrap(),
        created: case.created.unwrap_or(NOW),
        saved: case.saved.unwrap_or(NOW),
        points,
    }
}

/// Every point occurrence in body order: the stale ones, then the ones that must win.
fn occurrences(case: &Case) -> Vec<(String, &Value)> {
    let stale = case.earlier.iter().map(|(index, upper, value)| {
        let name = &case.points[*index].0;
        let name = if *upper {
            name.to_uppercase()
        } else {
            name.clone()
        };
        (name, value)
    });
    let last = case
        .points
        .iter()
        .map(|(name, value)| (name.clone(), value));
    stale.chain(last).collect()
}

/// Form-notation fields in order: (name, value); rawData values already base64.
fn fields(case: &Case) -> Vec<(String, String)> {
    let mut fields = vec![("session[uuid]".to_owned(), case.uuid.clone())];
    if let Some(stale) = &case.earlier_unit_id {
        fields.push(("session[unit_id]".to_owned(), stale.clone()));
    }
    fields.push(("session[unit_id]".to_owned(), case.unit_id.clone()));
    for (field, time) in [("created", case.created), ("saved", case.saved)] {
        if let Some(time) = time {
            fields.push((format!("session[{field}]"), time.to_string()));
        }
    }
    for (name, value) in occurrences(case) {
        fields.push(match value {
            Value::Text(text) => (format!("session[data][{name}]"), text.clone()),
            Value::Raw(bytes) => (
                format!("session[data][{name}][rawData]"),
                encode_base64(bytes),
            ),
        });
    }
    fields
}

/// JSON written entry by entry: a `serde_json` map would drop the repeated keys.
fn as_json(case: &Case) -> Vec<u8> {
    let entry =
        |key: &str, value: serde_json::Value| format!("{}: {value}", serde_json::json!(key));
    let data: Vec<String> = occurrences(case)
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                Value::Text(text) => serde_json::json!(text),
                Value::Raw(bytes) => serde_json::json!({ "rawData": encode_base64(bytes) }),
            };
            entry(&name, value)
        })
        .collect();
    let mut session = vec![entry("uuid", serde_json::json!(case.uuid))];
    if let Some(stale) = &case.earlier_unit_id {
        session.push(entry("unit_id", serde_json::json!(stale)));
    }
    session.push(entry("unit_id", serde_json::json!(case.unit_id)));
    session.push(format!("\"data\": {{{}}}", data.join(", ")));
    for (field, time) in [("created", case.created), ("saved", case.saved)] {
        if let Some(time) = time {
            session.push(entry(field, serde_json::json!(time)));
        }
    }
    format!("{{\"session\": {{{}}}}}", session.join(", ")).into_bytes()
}

fn as_form(case: &Case) -> Vec<u8> {
    let encode = |text: &str| {
        let encoded = utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
        if case.plus_for_space {
            encoded.replace("%20", "+")
        } else {
            encoded
        }
    };
    let pairs: Vec<String> = fields(case)
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect();
    pairs.join("&").into_bytes()
}

fn as_multipart(case: &Case) -> Vec<u8> {
    let fields = fields(case);
    let parts: Vec<Part<'_>> = fields
        .iter()
        .map(|(name, value)| Part {
            name,
            filename: None,
            content_type: None,
            bytes: value.as_bytes(),
        })
        .collect();
    multipart_body(&parts)
}

/// The default point limit.
const MAX: usize = 2_000;

proptest! {
    #[test]
    fn json_form_and_multipart_agree(case in case()) {
        let want = expected(&case);
        let repeats = (case.earlier.len() + usize::from(case.earlier_unit_id.is_some())) as u64;
        let from_json = json::decode(&as_json(&case), MAX).unwrap();
        prop_assert_eq!(from_json.repeated.count, repeats);
        prop_assert_eq!(parse(from_json), Ok(want.clone()));
        let from_form = form::decode(&as_form(&case), MAX).unwrap();
        prop_assert_eq!(from_form.repeated.count, repeats);
        prop_assert_eq!(parse(from_form), Ok(want.clone()));
        let limits = MultipartLimits::default();
        let raw = decode_multipart(&as_multipart(&case), BOUNDARY, case.chunk, &limits).unwrap();
        prop_assert_eq!(raw.repeated.count, repeats);
        prop_assert_eq!(parse(raw), Ok(want));
    }
}
