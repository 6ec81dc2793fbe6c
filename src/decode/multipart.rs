//! `multipart/form-data` bodies: the bracket names of a form post, plus file parts that
//! become attachments.

use std::error::Error;

use bytes::Bytes;
use futures_util::Stream;
use multer::{Constraints, Field, Multipart, SizeLimit};

use super::DecodeError;
use super::collect::{Collector, FieldValue};
use crate::session::{FileAttachment, Limits, RawSession, clip};

/// The content type of a file part that names none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Bounds on a multipart body, so a client cannot make the front buffer more than it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// The whole body, in bytes (files included).
    pub max_body_bytes: u64,
    /// One part without a file name, in bytes. Above it the upload is refused as too large
    /// instead of being read into memory; keep it above the session's text and rawData
    /// limits so a value just over those gets the precise 400 from validation.
    pub max_text_field_bytes: u64,
    /// Parts of any name, ignored ones included.
    pub max_parts: usize,
    /// Points of the session, as in [`Limits::max_points`].
    pub max_points: usize,
}

impl MultipartLimits {
    /// Limits that fit a body limit and the session limits: text parts may be twice the
    /// largest acceptable value (text or base64 of a rawData), parts a few more than points.
    pub fn new(max_body_bytes: u64, limits: &Limits) -> Self {
        let base64_bytes = limits.max_raw_bytes.div_ceil(3).saturating_mul(4);
        let largest = limits.max_text_bytes.max(base64_bytes).saturating_mul(2);
        Self {
            max_body_bytes,
            max_text_field_bytes: u64::try_from(largest).unwrap_or(u64::MAX),
            max_parts: limits.max_points.saturating_add(64),
            max_points: limits.max_points,
        }
    }
}

impl Default for MultipartLimits {
    /// The contract's defaults: a 32 MiB body and the default [`Limits`].
    fn default() -> Self {
        Self::new(32 << 20, &Limits::default())
    }
}

/// Decodes a multipart create body from the request's byte stream.
///
/// A part with a file name (`filename=` present) named `session[data][<point>]` is that
/// point's attachment, bytes kept exactly; a file part elsewhere is recorded as an error. A
/// part with an empty file name and no content is what a browser sends for a file input left
/// empty, and is skipped. Parts without a name, or with names outside `session[…]`, are
/// skipped. Text parts must be UTF-8.
pub async fn decode<S, E>(
    stream: S,
    boundary: String,
    limits: &MultipartLimits,
) -> Result<RawSession, DecodeError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn Error + Send + Sync>>,
{
    // multer's per-field limit would cap files too; text parts are capped while read below.
    let size_limit = SizeLimit::new()
        .whole_stream(limits.max_body_bytes)
        .per_field(limits.max_body_bytes);
    let constraints = Constraints::new().size_limit(size_limit);
    let mut multipart = Multipart::with_constraints(stream, boundary, constraints);
    let mut collector = Collector::new(limits.max_points);
    let mut parts = 0_usize;
    while let Some(mut field) = multipart.next_field().await.map_err(stream_error)? {
        parts += 1;
        if parts > limits.max_parts {
            return Err(DecodeError::malformed(
                "body",
                format!("has too many parts (at most {})", limits.max_parts),
            ));
        }
        let Some(name) = field
            .name()
            .map(str::to_owned)
            .or_else(|| extended_parameter(&field, "name"))
        else {
            // Dropping it would lose data without a word.
            return Err(DecodeError::malformed(
                "body",
                "has a part without a name (Content-Disposition: form-data; name=\"…\")",
            ));
        };
        if !Collector::wants(&name) {
            continue;
        }
        let filename = field
            .file_name()
            .map(str::to_owned)
            .or_else(|| extended_parameter(&field, "filename"));
        let Some(filename) = filename else {
            let bytes = read(&mut field, &name, limits.max_text_field_bytes).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| DecodeError::malformed(clip(&name), "is not valid UTF-8"))?;
            collector.add(&name, FieldValue::Text(text));
            continue;
        };
        let content_type = field
            .content_type()
            .map_or_else(|| DEFAULT_CONTENT_TYPE.to_owned(), ToString::to_string);
        let bytes = read(&mut field, &name, limits.max_body_bytes).await?;
        if filename.is_empty() && bytes.is_empty() {
            continue;
        }
        let file = FileAttachment {
            filename: Some(filename).filter(|filename| !filename.is_empty()),
            content_type,
            bytes,
            md5: None,
        };
        collector.add(&name, FieldValue::File(file));
    }
    Ok(collector.finish())
}

/// An RFC 5987 `key*=charset'language'percent-encoded` parameter of the part's
/// Content-Disposition, which multer does not read but some clients (reqwest among them) send
/// for names with spaces or non-ASCII characters.
pub(crate) fn extended_parameter(field: &Field<'_>, key: &str) -> Option<String> {
    let disposition = field.headers().get("content-disposition")?.to_str().ok()?;
    let wanted = format!("{key}*=");
    let value = disposition
        .split(';')
        .map(str::trim)
        .find_map(|parameter| parameter.strip_prefix(wanted.as_str()))?;
    let mut pieces = value.trim_matches('"').splitn(3, '\'');
    let charset = pieces.next()?.to_ascii_lowercase();
    let encoded = pieces.nth(1)?;
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(encoded).collect();
    match charset.as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" => Some(bytes.into_iter().map(char::from).collect()),
        _ => None,
    }
}

/// Reads one part whole, refusing it once it passes `limit` bytes.
pub(crate) async fn read(
    field: &mut Field<'_>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, DecodeError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(stream_error)? {
        let total = u64::try_from(bytes.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if total > limit {
            return Err(DecodeError::TooLarge(format!(
                "{} is larger than {limit} bytes",
                clip(name)
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Size limits (multer's own, or a limit of the wrapped body stream) are 413; everything
/// else about the stream is a malformed body.
/// Maps a multer failure to `413` (over a limit) or `400` naming `body`, with its causes.
pub fn stream_error(error: multer::Error) -> DecodeError {
    match &error {
        multer::Error::StreamSizeExceeded { limit } => {
            DecodeError::TooLarge(format!("the body is larger than {limit} bytes"))
        }
        multer::Error::FieldSizeExceeded { limit, field_name } => DecodeError::TooLarge(format!(
            "{} is larger than {limit} bytes",
            field_name.as_deref().unwrap_or("a part")
        )),
        _ if chain(&error).any(|e| e.to_string().contains("length limit exceeded")) => {
            DecodeError::TooLarge("the body is larger than allowed".into())
        }
        _ => {
            let causes: Vec<String> = chain(&error).map(ToString::to_string).collect();
            let message = format!("is not valid multipart/form-data: {}", causes.join(": "));
            DecodeError::malformed("body", message)
        }
    }
}

/// The error and its sources, outermost first.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&error| error.source())
}
