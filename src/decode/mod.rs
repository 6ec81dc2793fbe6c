//! Request bodies → [`RawSession`](crate::session::RawSession).
//!
//! Each decoder only recovers the structure a client sent (which field, which point, text or
//! binary); every rule about the values lives in [`crate::session`], so JSON, urlencoded and
//! multipart uploads are judged identically.

pub mod attachment;
pub mod body;
mod collect;
pub mod form;
pub mod json;
pub mod multipart;
mod path;
mod repeats;

pub use body::{BodyHeaders, read_session};
pub use multipart::MultipartLimits;
pub use path::{FieldPath, classify};
pub use repeats::Repeated;

/// The body encodings of a session (create or update), so the right decoder is picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`, with the boundary that separates its parts.
    Multipart {
        /// The `boundary` parameter of the content type, unquoted.
        boundary: String,
    },
}

impl BodyKind {
    /// The encoding's name in metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Form => "urlencoded",
            Self::Multipart { .. } => "multipart",
        }
    }
}

/// Why a body could not be decoded; each variant maps to one HTTP status (415, 400, 413).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The content type is missing or not one the route accepts (415).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The body is not well-formed; `field` names the culprit in form notation (400).
    #[error("{field}: {message}")]
    Malformed {
        /// `body`, `session`, or a form-notation field such as `session[data][p]`.
        field: String,
        /// What is wrong, for the client.
        message: String,
    },
    /// The body or one of its parts is over a size limit (413).
    #[error("payload too large: {0}")]
    TooLarge(String),
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Malformed`], used by every decoder.
    pub(crate) fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Malformed {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Picks the decoder from a `Content-Type` header value, so an unsupported body is refused
/// before it is read.
pub fn body_kind(content_type: Option<&str>) -> Result<BodyKind, DecodeError> {
    const ACCEPTED: &str =
        "use application/json, application/x-www-form-urlencoded or multipart/form-data";
    let Some(content_type) = content_type else {
        return Err(DecodeError::UnsupportedMediaType(format!(
            "no Content-Type given; {ACCEPTED}"
        )));
    };
    let mut parts = content_type.split(';');
    let media_type = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        "multipart/form-data" => match parts.find_map(boundary_parameter) {
            Some(boundary) if !boundary.is_empty() => Ok(BodyKind::Multipart { boundary }),
            _ => Err(DecodeError::malformed(
                "body",
                "multipart/form-data needs a boundary parameter in Content-Type",
            )),
        },
        "" => Err(DecodeError::UnsupportedMediaType(format!(
            "empty Content-Type; {ACCEPTED}"
        ))),
        other => Err(DecodeError::UnsupportedMediaType(format!(
            "{other} is not accepted; {ACCEPTED}"
        ))),
    }
}

/// The value of a `boundary=` parameter (name case-insensitive, value optionally quoted).
fn boundary_parameter(parameter: &str) -> Option<String> {
    let (name, value) = parameter.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("boundary") {
        return None;
    }
    let value = value.trim();
    let unquoted = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value);
    Some(unquoted.to_owned())
}

#[cfg(test)]
mod attachment_tests;
#[cfg(test)]
mod equivalence_tests;
#[cfg(test)]
mod form_tests;
#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod mod_tests;
#[cfg(test)]
mod multipart_tests;
#[cfg(test)]
mod test_support;
