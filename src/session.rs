//! The canonical session and every validation rule of the create contract, in one place.
//!
//! Decoders (JSON, urlencoded, multipart) turn a body into a [`RawSession`]: untrusted text,
//! still undecoded base64 and file parts. [`RawSession::parse`] applies the rules and yields
//! a [`Session`] or the complete list of [`FieldErrors`], keyed by form-notation field names.
//! The consumer re-checks what it takes off the queue with [`Session::check`], which runs
//! the same field parsers.

use std::collections::BTreeMap;

use crate::file::Attachment;
pub use crate::file::FileAttachment;

pub use self::errors::{FieldErrors, clip};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

/// The largest accepted unix time: 9999-12-31T23:59:59Z.
pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;
/// The longest uuid, unit id or point name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// The longest attachment file name or content type, in characters: file systems stop at
/// 255 bytes, and RFC 6838 media types at 127 characters each side of the slash.
pub const MAX_FILE_TEXT_CHARS: usize = 255;
/// The point that also carries the device's UTC offset in seconds east.
pub const TIMEZONE_POINT: &str = "__timezone__";

/// Size limits applied to one session; the defaults are SPEC's.
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

/// The form-notation name of a top-level session field, e.g. `session[unit_id]`.
pub fn field_name(field: &str) -> String {
    format!("session[{field}]")
}

/// The form-notation name of a data point, e.g. `session[data][photo1]`.
pub fn point_field_name(point: &str) -> String {
    format!("session[data][{point}]")
}

/// A session uuid as the device gave it (not necessarily RFC 4122).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionUuid(String);

impl SessionUuid {
    /// Accepts 1–128 letters, digits and `-_.:{}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        check_length(text)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:{}".contains(c);
        if !text.chars().all(allowed) {
            return Err("may contain only letters, digits and -_.:{}".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// A random RFC 4122 v4 uuid, for uploads that carry none.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The uuid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The device's unit id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(String);

impl UnitId {
    /// Accepts 1–128 characters without control characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        check_length(text)?;
        check_no_control(text)?;
        Ok(Self(text.to_owned()))
    }

    /// The unit id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point name, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PointName(String);

impl PointName {
    /// Lower-cases, then accepts 1–128 characters without control characters or brackets.
    /// The rules apply to the name as stored: lower-casing can lengthen it (`İ` becomes two
    /// characters), and a name the front accepts must be one the consumer can store.
    pub fn parse(text: &str) -> Result<Self, String> {
        // Lower-casing never shortens a name: a name too long as sent is refused unread.
        check_length(text)?;
        let name = text.to_lowercase();
        check_length(&name)?;
        check_no_control(&name)?;
        if name.contains(['[', ']']) {
            return Err("must not contain [ or ]".into());
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_length(text: &str) -> Result<(), String> {
    match text.chars().count() {
        0 => Err("must not be empty".into()),
        n if n > MAX_NAME_CHARS => Err(format!("must be at most {MAX_NAME_CHARS} characters")),
        _ => Ok(()),
    }
}

fn check_no_control(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Parses unix seconds given as digits, within 0 ..= [`MAX_UNIX_SECONDS`].
pub fn parse_unix_seconds(text: &str) -> Result<i64, String> {
    const RULE: &str = "must be unix seconds: an integer from 0 to 253402300799";
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RULE.into());
    }
    match text.parse::<i64>() {
        Ok(seconds) if seconds <= MAX_UNIX_SECONDS => Ok(seconds),
        _ => Err(RULE.into()),
    }
}

/// Checks a unix time that arrived already as a number (from the queue).
pub fn check_unix_seconds(seconds: i64) -> Result<i64, String> {
    parse_unix_seconds(&seconds.to_string())
}

/// Accepts standard and URL-safe base64, padded or not, trailing bits set or not.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes a `rawData` value. Devices send either alphabet, with or without padding, and
/// sometimes line-wrapped; a `+` that a form post turned into a space is restored.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let normalized: String = text
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| match c {
            '-' | ' ' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    LENIENT_BASE64
        .decode(normalized.as_bytes())
        .map_err(|_| "rawData must be base64 (standard or URL-safe alphabet)".to_string())
}

/// Encodes bytes as standard padded base64, as reads show `rawData`.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A checked point value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PointValue {
    /// Text, as stored in the session's `data`.
    Text(String),
    /// A small binary that arrived base64-encoded as `rawData`, already decoded.
    Raw(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A multipart file.
    File(FileAttachment),
}

impl PointValue {
    /// The point as an `attachments` row stores it; `None` for text.
    pub fn attachment(&self) -> Option<Attachment<'_>> {
        match self {
            Self::Text(_) => None,
            Self::Raw(bytes) => Some(Attachment::embedded(bytes)),
            Self::File(file) => Some(Attachment::file(file)),
        }
    }
}

/// A point value as a decoder found it, before the rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// Text (JSON numbers and booleans already as their JSON text, `null` as empty).
    Text(String),
    /// A `rawData` value, still base64.
    RawData(String),
    /// A multipart file part.
    File(FileAttachment),
    /// A value of a kind the contract does not allow; the message says why.
    Invalid(String),
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
    /// Structural problems the decoder found (duplicate fields, bad nesting).
    pub errors: FieldErrors,
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

fn parse_value(value: RawValue, limits: &Limits) -> Result<PointValue, String> {
    let value = match value {
        RawValue::Text(text) => PointValue::Text(text),
        RawValue::RawData(text) => {
            // Base64 is 4/3 of the bytes: refuse far-too-long text before decoding it.
            if text.len() / 4 * 3 > limits.max_raw_bytes.saturating_add(3) * 2 {
                return Err(format!(
                    "rawData must decode to at most {} bytes",
                    limits.max_raw_bytes
                ));
            }
            PointValue::Raw(decode_base64(&text)?)
        }
        RawValue::File(file) => PointValue::File(file),
        RawValue::Invalid(message) => return Err(message),
    };
    check_value(&value, limits)?;
    Ok(value)
}

/// The size and content rules a stored value must meet.
fn check_value(value: &PointValue, limits: &Limits) -> Result<(), String> {
    match value {
        PointValue::Text(text) if text.len() > limits.max_text_bytes => Err(format!(
            "text must be at most {} bytes",
            limits.max_text_bytes
        )),
        // PostgreSQL text cannot hold NUL; refusing it here beats a dead letter later.
        PointValue::Text(text) if text.contains('\0') => {
            Err("text must not contain NUL characters".into())
        }
        PointValue::Raw(bytes) if bytes.len() > limits.max_raw_bytes => Err(format!(
            "rawData must decode to at most {} bytes",
            limits.max_raw_bytes
        )),
        PointValue::File(file) => check_file(file),
        _ => Ok(()),
    }
}

/// The rules a file attachment must meet to be storable.
pub fn check_file(file: &FileAttachment) -> Result<(), String> {
    let texts = [file.filename.as_deref().unwrap_or(""), &file.content_type];
    if texts.iter().any(|text| text.contains('\0')) {
        return Err("file name and content type must not contain NUL characters".into());
    }
    if texts
        .iter()
        .any(|text| text.chars().nth(MAX_FILE_TEXT_CHARS).is_some())
    {
        return Err(format!(
            "file name and content type must be at most {MAX_FILE_TEXT_CHARS} characters"
        ));
    }
    Ok(())
}

/// Re-checks a point name that arrived from elsewhere: valid, and already lower-case.
pub fn check_point_name(name: &PointName) -> Result<(), String> {
    match PointName::parse(name.as_str()) {
        Ok(parsed) if parsed == *name => Ok(()),
        Ok(_) => Err("name must be lower-case".into()),
        Err(message) => Err(format!("name {message}")),
    }
}

/// Re-checks the points of a session or an update that arrived from elsewhere.
fn check_points(
    points: &BTreeMap<PointName, PointValue>,
    limits: &Limits,
    errors: &mut FieldErrors,
) {
    if points.len() > limits.max_points {
        errors.add(
            field_name("data"),
            format!("must have at most {} points", limits.max_points),
        );
    }
    for (name, value) in points {
        if let Err(message) = check_point_name(name).and_then(|()| check_value(value, limits)) {
            errors.add(point_field_name(name.as_str()), message);
        }
    }
}

/// Computes each file's MD5 once, for the answer and for the consumer to reuse.
pub fn remember_file_digests(points: &mut BTreeMap<PointName, PointValue>) {
    for value in points.values_mut() {
        if let PointValue::File(file) = value {
            file.remember_md5();
        }
    }
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
pub mod patch;
pub mod write;

#[cfg(test)]
mod tests;
