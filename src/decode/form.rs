//! `application/x-www-form-urlencoded` bodies with bracket names (`session[data][p]=v`).
//!
//! Not `form_urlencoded::parse`: it replaces invalid UTF-8 with U+FFFD, silently corrupting
//! data. Here invalid UTF-8 is refused, naming the field.

use percent_encoding::percent_decode;

use super::DecodeError;
use super::collect::{Collector, FieldValue};
use crate::session::{RawSession, clip};

/// Decodes an urlencoded create body. Names outside `session[…]` are ignored (even when they
/// are not UTF-8); duplicate and misplaced fields are collected in [`RawSession::errors`].
/// Past `max_points` points the rest are skipped (the session is refused for having too many).
pub fn decode(body: &[u8], max_points: usize) -> Result<RawSession, DecodeError> {
    let mut collector = Collector::new(max_points);
    for pair in body.split(|byte| *byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        let mut halves = pair.splitn(2, |byte| *byte == b'=');
        let name = unescape(halves.next().unwrap_or_default());
        if !name.starts_with(b"session[") {
            continue;
        }
        let name = String::from_utf8(name).map_err(|_| {
            DecodeError::malformed("body", "a field name is not valid UTF-8 (after %-decoding)")
        })?;
        if !Collector::wants(&name) {
            continue;
        }
        // A name without `=` has an empty value, as browsers and `form_urlencoded` read it.
        let value =
            String::from_utf8(unescape(halves.next().unwrap_or_default())).map_err(|_| {
                DecodeError::malformed(clip(&name), "is not valid UTF-8 (after %-decoding)")
            })?;
        collector.add(&name, FieldValue::Text(value));
    }
    Ok(collector.finish())
}

/// `+` → space, then `%XX` → byte; a `%` not followed by two hex digits stays as it is.
fn unescape(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&byte| if byte == b'+' { b' ' } else { byte })
        .collect();
    percent_decode(&spaced).collect()
}
