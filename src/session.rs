//! The canonical session and every validation rule of the create contract, in one place.
//!
//! Decoders (JSON, urlencoded, multipart) turn a body into a [`RawSession`]: untrusted text,
//! still undecoded base64 and file parts. [`RawSession::parse`] applies the rules and yields
//! a [`Session`] or the complete list of [`FieldErrors`], keyed by form-notation field names.
//! The consumer re-checks what it takes off the queue with [`Session::check`], which runs
//! the same field parsers.

use std::collections::BTreeMap;

pub use crate::file::FileAttachment;

pub use self::errors::{FieldErrors, clip};
pub use self::names::{
    MAX_NAME_CHARS, PointName, SessionUuid, UnitId, check_point_name, field_name, point_field_name,
};
pub use self::values::{
    MAX_FILE_TEXT_CHARS, MAX_UNIX_SECONDS, PointValue, RawValue, check_file, check_unix_seconds,
    decode_base64, encode_base64, parse_unix_seconds, remember_file_digests,
};
use self::values::{check_points, parse_value};
use serde::{Deserialize, Serialize};

/// The point that also carries the device's UTC offset in seconds east.
pub const TIMEZONE_POINT: &str = "__timezone__";

/// Size limits applied to one session; the defaults are the contract's (docs/API.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most points in one session.
    pub max_points: usize,
    /// Longest text value, in bytes.
    pub max_text_bytes: usize,
    /// Largest decoded `rawData` value, in bytes.
    pub max_raw_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_points: 2_000,
            max_text_bytes: 1 << 20,
            max_raw_bytes: 1 << 20,
        }
    }
}

/// A session as a decoder found it: untrusted, unchecked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSession {
    /// `session[uuid]`, if given.
    pub uuid: Option<String>,
    /// `session[unit_id]`, if given.
    pub unit_id: Option<String>,
    /// `session[created]` as text, if given.
    pub created: Option<String>,
    /// `session[saved]` as text, if given.
    pub saved: Option<String>,
    /// `session[data][…]` in arrival order, names as given.
    pub points: Vec<(String, RawValue)>,
    /// Structural problems the decoder found (bad nesting, wrong types).
    pub errors: FieldErrors,
    /// The fields given more than once (the last occurrence is the one kept).
    pub repeated: crate::decode::Repeated,
}

/// A session that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The device's (or a generated) session uuid.
    pub uuid: SessionUuid,
    /// The device that filled the form.
    pub unit_id: UnitId,
    /// Unix seconds the form was created on the device.
    pub created: i64,
    /// Unix seconds the form was last saved on the device.
    pub saved: i64,
    /// The points by lower-cased name.
    pub points: BTreeMap<PointName, PointValue>,
}

impl RawSession {
    /// Adds a point as a decoder found it. Past `max_points` points are dropped unread: one
    /// over the limit is enough for [`RawSession::parse`] to refuse the session, and keeping
    /// millions of tiny points took a 32 MiB body to almost 1 GB.
    pub fn push_point(&mut self, name: String, value: RawValue, max_points: usize) {
        if self.points.len() <= max_points {
            self.points.push((name, value));
        }
    }

    /// Whether a decoder may stop collecting points: the session already has too many.
    pub fn has_too_many_points(&self, max_points: usize) -> bool {
        self.points.len() > max_points
    }

    /// Applies every rule; `now` (unix seconds) is the default for `created` and `saved`.
    pub fn parse(self, limits: &Limits, now: i64) -> Result<Session, FieldErrors> {
        let mut errors = self.errors;
        let uuid = match self.uuid.as_deref() {
            None => Some(SessionUuid::generate()),
            Some(text) => record(&mut errors, "uuid", SessionUuid::parse(text)),
        };
        let unit_id = match self.unit_id.as_deref() {
            None => {
                errors.add(field_name("unit_id"), "is required");
                None
            }
            Some(text) => record(&mut errors, "unit_id", UnitId::parse(text)),
        };
        let mut time = |field: &str, value: Option<&str>| match value {
            None => Some(now),
            Some(text) => record(&mut errors, field, parse_unix_seconds(text)),
        };
        let created = time("created", self.created.as_deref());
        let saved = time("saved", self.saved.as_deref());
        let points = parse_points(self.points, limits, &mut errors);
        match (uuid, unit_id, created, saved) {
            (Some(uuid), Some(unit_id), Some(created), Some(saved)) => {
                errors.into_result(Session {
                    uuid,
                    unit_id,
                    created,
                    saved,
                    points,
                })
            }
            _ => Err(errors),
        }
    }
}

fn record<T>(errors: &mut FieldErrors, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|message| errors.add(field_name(field), message))
        .ok()
}

fn parse_points(
    raw: Vec<(String, RawValue)>,
    limits: &Limits,
    errors: &mut FieldErrors,
) -> BTreeMap<PointName, PointValue> {
    if raw.len() > limits.max_points {
        errors.add(
            field_name("data"),
            format!("must have at most {} points", limits.max_points),
        );
        return BTreeMap::new();
    }
    let mut points = BTreeMap::new();
    for (given_name, value) in raw {
        let field = point_field_name(&given_name);
        let name = match PointName::parse(&given_name) {
            Ok(name) => name,
            Err(message) => {
                errors.add(field, format!("name {message}"));
                continue;
            }
        };
        if points.contains_key(&name) {
            errors.add(
                field,
                "is given more than once (names are case-insensitive)",
            );
            continue;
        }
        match parse_value(value, limits) {
            Ok(value) => {
                points.insert(name, value);
            }
            Err(message) => errors.add(field, message),
        }
    }
    points
}

impl Session {
    /// Re-applies every rule to a session that arrived from elsewhere (the queue, an archive).
    pub fn check(&self, limits: &Limits) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut note = |field: String, result: Result<(), String>| {
            if let Err(message) = result {
                errors.add(field, message);
            }
        };
        note(
            field_name("uuid"),
            SessionUuid::parse(self.uuid.as_str()).map(drop),
        );
        note(
            field_name("unit_id"),
            UnitId::parse(self.unit_id.as_str()).map(drop),
        );
        note(
            field_name("created"),
            check_unix_seconds(self.created).map(drop),
        );
        note(
            field_name("saved"),
            check_unix_seconds(self.saved).map(drop),
        );
        check_points(&self.points, limits, &mut errors);
        errors.into_result(())
    }

    /// The device's UTC offset in seconds east, when `__timezone__` holds an integer.
    pub fn timezone_offset(&self) -> Option<i32> {
        let name = PointName(TIMEZONE_POINT.to_owned());
        match self.points.get(&name) {
            Some(PointValue::Text(text)) => text.trim().parse().ok(),
            _ => None,
        }
    }
}

mod errors;
mod names;
pub mod patch;
mod values;
pub mod write;

#[cfg(test)]
mod tests;
