//! Helpers shared by the decoder tests: canned sessions, body builders, a blocking multipart
//! decode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{DecodeError, MultipartLimits, multipart};
use crate::session::{
    FieldErrors, Limits, PointName, PointValue, RawSession, Session, SessionUuid, UnitId,
};

/// The fixed "now" for every parse in these tests.
pub const NOW: i64 = 1_700_000_000;

pub const EXAMPLE_JSON: &[u8] = include_bytes!("../../examples/create-session.json");
pub const EXAMPLE_FORM: &[u8] = include_bytes!("../../examples/create-session.form");

/// `base-64-data-goes-here`: URL-safe characters, no padding, non-zero trailing bits.
pub const EXAMPLE_SKETCH: [u8; 16] = [
    109, 171, 30, 251, 174, 62, 117, 171, 90, 250, 10, 30, 179, 232, 94, 173,
];

/// Applies the default rules at [`NOW`].
pub fn parse(raw: RawSession) -> Result<Session, FieldErrors> {
    raw.parse(&Limits::default(), NOW)
}

/// The session both examples describe (the form one adds a `__timezone__` point).
pub fn example_session() -> Session {
    let mut points = BTreeMap::new();
    points.insert(point("point1"), PointValue::Text("value1".into()));
    points.insert(point("point2"), PointValue::Text("value2".into()));
    points.insert(point("sketch1"), PointValue::Raw(EXAMPLE_SKETCH.to_vec()));
    Session {
        uuid: SessionUuid::parse("12341234-12341234-1234-1234-123412341234").unwrap(),
        unit_id: UnitId::parse("mydevice").unwrap(),
        created: 1_234_567_890,
        saved: 1_234_567_890,
        points,
    }
}

pub fn point(name: &str) -> PointName {
    PointName::parse(name).unwrap()
}

/// The messages recorded against one field.
pub fn messages(errors: &FieldErrors, field: &str) -> Vec<String> {
    errors
        .iter()
        .find(|(name, _)| name.as_str() == field)
        .map(|(_, messages)| messages.clone())
        .unwrap_or_default()
}

/// One multipart part for [`multipart_body`].
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// A text part.
pub fn text_part<'a>(name: &'a str, value: &'a str) -> Part<'a> {
    Part {
        name,
        filename: None,
        content_type: None,
        bytes: value.as_bytes(),
    }
}

pub const BOUNDARY: &str = "----intake-test-boundary-7MA4YWxkTrZu0gW";

/// A well-formed multipart/form-data body.
pub fn multipart_body(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(filename) = part.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Runs the multipart decoder to completion on `body`, delivered in `chunk`-byte pieces.
pub fn decode_multipart(
    body: &[u8],
    boundary: &str,
    chunk: usize,
    limits: &MultipartLimits,
) -> Result<RawSession, DecodeError> {
    let chunks: Vec<Result<Bytes, std::io::Error>> = body
        .chunks(chunk.max(1))
        .map(|piece| Ok(Bytes::copy_from_slice(piece)))
        .collect();
    decode_stream(chunks, boundary, limits)
}

/// Runs the multipart decoder on an explicit sequence of stream items.
pub fn decode_stream(
    items: Vec<Result<Bytes, std::io::Error>>,
    boundary: &str,
    limits: &MultipartLimits,
) -> Result<RawSession, DecodeError> {
    let stream = futures_util::stream::iter(items);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(multipart::decode(stream, boundary.to_owned(), limits))
}

/// A request body delivered in `chunk`-byte pieces, as a client's stream arrives.
pub fn chunked_body(
    bytes: &[u8],
    chunk: usize,
) -> http_body_util::StreamBody<
    impl futures_util::Stream<Item = Result<hyper::body::Frame<Bytes>, std::io::Error>> + use<>,
> {
    let frames: Vec<Result<hyper::body::Frame<Bytes>, std::io::Error>> = bytes
        .chunks(chunk.max(1))
        .map(|piece| Ok(hyper::body::Frame::data(Bytes::copy_from_slice(piece))))
        .collect();
    http_body_util::StreamBody::new(futures_util::stream::iter(frames))
}

/// Runs a decoder's future to completion.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}
