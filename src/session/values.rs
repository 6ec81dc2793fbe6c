//! Point values and times: the rules for text, rawData, files and unix seconds.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};

use super::{FieldErrors, Limits, PointName, check_point_name, field_name, point_field_name};
use crate::file::{Attachment, FileAttachment};

/// The largest accepted unix time: 9999-12-31T23:59:59Z.
pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;
/// The longest attachment file name or content type, in characters: file systems stop at
/// 255 bytes, and RFC 6838 media types at 127 characters each side of the slash.
pub const MAX_FILE_TEXT_CHARS: usize = 255;

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

pub(super) fn parse_value(value: RawValue, limits: &Limits) -> Result<PointValue, String> {
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

/// Re-checks the points of a session or an update that arrived from elsewhere.
pub(super) fn check_points(
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
