//! `application/json` bodies: `{"session": {…}}`.
//!
//! Hand-written serde visitors read the body in one pass instead of going through
//! `serde_json::Value`, so that wrong types are reported by field, points past the limit are
//! skipped unread and repeated keys are counted. A repeated key keeps its last value, as
//! Ruby's JSON parser (the MDA server's) does: a repeated `data` object replaces the points
//! of the earlier one whole. serde_json's recursion limit (128) stays in force.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::DecodeError;
use super::repeats::{PointList, Repeated};
use crate::session::{FieldErrors, RawSession, RawValue, field_name, point_field_name};

const VALUE_RULE: &str = "must be text or {\"rawData\": base64}";

/// Decodes a JSON create body. Structural problems inside the session (wrong JSON types)
/// are collected in [`RawSession::errors`]; only an unreadable body or a
/// missing `session` object is an `Err`. Past `max_points` points the rest are skipped
/// unread (the session is refused for having too many), so memory stays near the body's size.
pub fn decode(body: &[u8], max_points: usize) -> Result<RawSession, DecodeError> {
    // RFC 8259 lets a parser ignore a byte order mark; some Windows tools write one.
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let not_json = |error| DecodeError::malformed("body", format!("is not valid JSON: {error}"));
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let root = Seed::<Root>::new(max_points)
        .deserialize(&mut deserializer)
        .map_err(not_json)?;
    deserializer.end().map_err(not_json)?;
    const REQUIRED: &str = "is required: the body must be {\"session\": {…}}";
    match root {
        Shape::Object(Root {
            session: Some(Shape::Object(mut session)),
            repeats,
        }) => {
            for _ in 0..repeats {
                session.repeated.record(|| "session".into());
            }
            Ok(session)
        }
        Shape::Object(Root {
            session: Some(other),
            ..
        }) => Err(DecodeError::malformed(
            "session",
            format!("must be an object, not {}", other.kind()),
        )),
        _ => Err(DecodeError::malformed("session", REQUIRED)),
    }
}

/// Any JSON value; objects are read by `M`, everything else is kept as text or a marker.
enum Shape<M> {
    Str(String),
    /// A number as its JSON text (integers exactly; other numbers via `serde_json::Number`).
    Num(String),
    Bool(bool),
    Null,
    Array,
    Object(M),
}

impl<M> Shape<M> {
    fn kind(&self) -> &'static str {
        match self {
            Shape::Str(_) => "a string",
            Shape::Num(_) => "a number",
            Shape::Bool(_) => "true or false",
            Shape::Null => "null",
            Shape::Array => "an array",
            Shape::Object(_) => "an object",
        }
    }
}

/// Reads the entries of a JSON object in one context (root, session, data, point value).
trait ReadMap: Sized {
    fn read<'de, A: MapAccess<'de>>(map: A, max_points: usize) -> Result<Self, A::Error>;
}

/// Reads one JSON value as a [`Shape`] whose objects `M` reads, with the point limit at hand.
struct Seed<M> {
    max_points: usize,
    shape: PhantomData<M>,
}

impl<M> Seed<M> {
    fn new(max_points: usize) -> Self {
        Self {
            max_points,
            shape: PhantomData,
        }
    }
}

impl<'de, M: ReadMap> DeserializeSeed<'de> for Seed<M> {
    type Value = Shape<M>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape<M>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// The next value of `map`, read by `M`.
fn next<'de, M: ReadMap, A: MapAccess<'de>>(
    map: &mut A,
    max_points: usize,
) -> Result<Shape<M>, A::Error> {
    map.next_value_seed(Seed::<M>::new(max_points))
}

impl<'de, M: ReadMap> Visitor<'de> for Seed<M> {
    type Value = Shape<M>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Shape::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Shape::Num(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Shape::Num(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // `Number` keeps a fraction or exponent visible (1e9 → "1000000000.0"), so a float
        // never passes as integer seconds.
        let text = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        Ok(Shape::Num(text))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Shape::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Shape::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Shape::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Shape::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        M::read(map, self.max_points).map(Shape::Object)
    }
}

/// An object whose content does not matter.
struct Skip;

impl ReadMap for Skip {
    fn read<'de, A: MapAccess<'de>>(mut map: A, _: usize) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Skip)
    }
}

/// The body object: only `session` matters, the last one when it is repeated.
struct Root {
    session: Option<Shape<RawSession>>,
    repeats: usize,
}

impl ReadMap for Root {
    fn read<'de, A: MapAccess<'de>>(mut map: A, max_points: usize) -> Result<Self, A::Error> {
        let mut root = Root {
            session: None,
            repeats: 0,
        };
        while let Some(key) = map.next_key::<String>()? {
            if key != "session" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let session = next(&mut map, max_points)?;
            if root.session.replace(session).is_some() {
                root.repeats = root.repeats.saturating_add(1);
            }
        }
        Ok(root)
    }
}

impl ReadMap for RawSession {
    fn read<'de, A: MapAccess<'de>>(mut map: A, max_points: usize) -> Result<Self, A::Error> {
        const FIELDS: [&str; 4] = ["uuid", "unit_id", "created", "saved"];
        let mut raw = RawSession::default();
        // The last value of each field, judged once the object is read.
        let mut fields: [Option<Shape<Skip>>; FIELDS.len()] = Default::default();
        let mut data: Option<Shape<Points>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if key == "data" {
                data.replace(next(&mut map, max_points)?).is_some()
            } else if let Some(index) = FIELDS.iter().position(|field| *field == key) {
                let value = next(&mut map, max_points)?;
                fields
                    .get_mut(index)
                    .and_then(|slot| slot.replace(value))
                    .is_some()
            } else {
                // Unknown keys are ignored, as MDA clients may send more than we store.
                map.next_value::<IgnoredAny>()?;
                false
            };
            if repeated {
                raw.repeated.record(|| field_name(&key));
            }
        }
        let [uuid, unit_id, created, saved] = fields;
        let errors = &mut raw.errors;
        raw.uuid = uuid.and_then(|value| text(errors, "uuid", value, false));
        raw.unit_id = unit_id.and_then(|value| text(errors, "unit_id", value, true));
        raw.created = created.and_then(|value| text(errors, "created", value, true));
        raw.saved = saved.and_then(|value| text(errors, "saved", value, true));
        match data {
            Some(Shape::Object(Points { points, repeated })) => {
                raw.points = points.into_vec();
                raw.repeated.absorb(repeated);
            }
            None | Some(Shape::Null) => {}
            Some(other) => errors.add(
                field_name("data"),
                format!("must be an object of points, not {}", other.kind()),
            ),
        }
        Ok(raw)
    }
}

/// The text of a top-level field; `null` counts as absent. Other types are recorded.
fn text(
    errors: &mut FieldErrors,
    field: &str,
    value: Shape<Skip>,
    numbers: bool,
) -> Option<String> {
    match value {
        Shape::Str(text) => Some(text),
        Shape::Num(text) if numbers => Some(text),
        Shape::Null => None,
        other => {
            let wanted = match field {
                "created" | "saved" => "unix seconds (an integer)",
                _ => "a string",
            };
            errors.add(
                field_name(field),
                format!("must be {wanted}, not {}", other.kind()),
            );
            None
        }
    }
}

/// `session.data`: the last value of each point (names case-insensitive), in order of
/// first occurrence.
struct Points {
    points: PointList,
    repeated: Repeated,
}

impl ReadMap for Points {
    fn read<'de, A: MapAccess<'de>>(mut map: A, max_points: usize) -> Result<Self, A::Error> {
        let mut read = Points {
            points: PointList::default(),
            repeated: Repeated::default(),
        };
        while let Some(name) = map.next_key::<String>()? {
            // One past the limit is enough to refuse the session; the rest is only skipped.
            if read.points.is_over(max_points) {
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                break;
            }
            let value = match next::<RawData, A>(&mut map, max_points)? {
                Shape::Str(text) | Shape::Num(text) => RawValue::Text(text),
                Shape::Bool(flag) => RawValue::Text(flag.to_string()),
                Shape::Null => RawValue::Text(String::new()),
                Shape::Object(RawData { base64, repeats }) => {
                    for _ in 0..repeats {
                        read.repeated
                            .record(|| format!("{}[rawData]", point_field_name(&name)));
                    }
                    match base64 {
                        Some(base64) => RawValue::RawData(base64),
                        None => RawValue::Invalid(VALUE_RULE.to_owned()),
                    }
                }
                Shape::Array => RawValue::Invalid(VALUE_RULE.to_owned()),
            };
            if let Some(name) = read.points.push(name, value, max_points) {
                read.repeated.record(|| point_field_name(name));
            }
        }
        Ok(read)
    }
}

/// A point value object: valid only as `{"rawData": "<string>"}` (the key repeated or not;
/// its last value counts).
struct RawData {
    base64: Option<String>,
    repeats: usize,
}

impl ReadMap for RawData {
    fn read<'de, A: MapAccess<'de>>(mut map: A, max_points: usize) -> Result<Self, A::Error> {
        let mut other_keys = false;
        let mut last: Option<Shape<Skip>> = None;
        let mut repeats = 0_usize;
        while let Some(key) = map.next_key::<String>()? {
            let value = next::<Skip, A>(&mut map, max_points)?;
            if key != "rawData" {
                other_keys = true;
            } else if last.replace(value).is_some() {
                repeats = repeats.saturating_add(1);
            }
        }
        let base64 = match (other_keys, last) {
            (false, Some(Shape::Str(text))) => Some(text),
            _ => None,
        };
        Ok(RawData { base64, repeats })
    }
}
