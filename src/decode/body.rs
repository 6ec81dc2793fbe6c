//! Reading a request body within the body limit: a declared length over it is refused before
//! anything is read, and a body that grows past it while it streams is cut off; both are
//! `413`. Then the session decoder is picked by the content type.

use std::error::Error;

use bytes::Bytes;
use http_body_util::{BodyDataStream, BodyExt as _, LengthLimitError, Limited};
use hyper::body::Body;

use super::multipart::MultipartLimits;
use super::{BodyKind, DecodeError, body_kind};
use crate::session::{Limits, RawSession};

/// What a request's headers say about its body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyHeaders<'a> {
    /// `Content-Type`, when given as text.
    pub content_type: Option<&'a str>,
    /// `Content-Length`, when given as a number.
    pub content_length: Option<u64>,
}

/// Decodes a session body (create or update) by its content type, never reading more than
/// `limit` bytes of it.
pub async fn read_session<B>(
    headers: BodyHeaders<'_>,
    body: B,
    limit: usize,
    limits: &Limits,
) -> Result<RawSession, DecodeError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    refuse_declared(headers, limit)?;
    let kind = body_kind(headers.content_type)?;
    let limited = Limited::new(body, limit);
    match kind {
        BodyKind::Multipart { boundary } => {
            let limits = MultipartLimits::new(limit as u64, limits);
            super::multipart::decode(BodyDataStream::new(limited), boundary, &limits).await
        }
        BodyKind::Json => super::json::decode(
            &collect(limited, headers, limit, "body").await?,
            limits.max_points,
        ),
        BodyKind::Form => super::form::decode(
            &collect(limited, headers, limit, "body").await?,
            limits.max_points,
        ),
    }
}

/// Refuses a body whose declared length is over `limit` before reading any of it.
pub(crate) fn refuse_declared(headers: BodyHeaders<'_>, limit: usize) -> Result<(), DecodeError> {
    match headers.content_length {
        Some(length) if length > limit as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// The whole (limited) body in one buffer, sized up front from the declared length; past the
/// limit `413`, a failed read a `400` naming `field`. Collecting the frames and then joining
/// them held every byte twice: 64 MiB for a 32 MiB body.
pub(crate) async fn collect<B>(
    body: Limited<B>,
    headers: BodyHeaders<'_>,
    limit: usize,
    field: &str,
) -> Result<Vec<u8>, DecodeError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let declared = headers
        .content_length
        .and_then(|length| usize::try_from(length).ok());
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length.min(limit)));
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            Err(error) if error.is::<LengthLimitError>() => return Err(too_large(limit)),
            Err(error) => {
                return Err(DecodeError::malformed(
                    field,
                    format!("could not read the body: {error}"),
                ));
            }
        }
    }
    Ok(bytes)
}

/// The `413` of a body over the limit.
fn too_large(limit: usize) -> DecodeError {
    DecodeError::TooLarge(format!("the body must be at most {limit} bytes"))
}
