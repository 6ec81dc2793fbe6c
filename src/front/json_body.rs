//! JSON answers written into chunks of a bounded size: a large answer (a session of 32 MiB, a
//! page of large sessions) is never copied from an outgrown buffer into a bigger one, and
//! each chunk is freed as soon as it is sent.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use serde::Serialize;

/// The size of a full chunk. The first chunk grows up to it, so a small answer stays one
/// small buffer.
const CHUNK_BYTES: usize = 256 * 1024;

/// `value` as an `application/json` response with `status`.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    let mut chunks = Chunks::default();
    if let Err(error) = serde_json::to_writer(&mut chunks, value) {
        tracing::error!(%error, "cannot serialize an answer");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = (status, chunks.into_body()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Serialized output in chunks of at most [`CHUNK_BYTES`].
#[derive(Default)]
struct Chunks {
    full: VecDeque<Bytes>,
    current: Vec<u8>,
}

impl Chunks {
    fn into_body(mut self) -> Body {
        if self.full.is_empty() {
            return Body::from(self.current);
        }
        if !self.current.is_empty() {
            self.full.push_back(Bytes::from(self.current));
        }
        let remaining = self.full.iter().map(|chunk| chunk.len() as u64).sum();
        Body::new(ChunkedBody {
            chunks: self.full,
            remaining,
        })
    }
}

impl io::Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.current.len() == CHUNK_BYTES {
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(CHUNK_BYTES));
            self.full.push_back(Bytes::from(full));
        }
        let taken = buf.len().min(CHUNK_BYTES - self.current.len());
        self.current
            .extend_from_slice(buf.get(..taken).unwrap_or_default());
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The chunks as a body of known length (so it is sent with `Content-Length`).
struct ChunkedBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl hyper::body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = self.chunks.pop_front();
        if let Some(chunk) = &chunk {
            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        }
        Poll::Ready(chunk.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use http_body_util::BodyExt as _;

    use super::*;

    async fn answer(value: &serde_json::Value) -> (Option<u64>, Vec<u8>) {
        let response = json_response(StatusCode::ACCEPTED, value);
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
        let body = response.into_body();
        let length = hyper::body::Body::size_hint(&body).exact();
        (length, body.collect().await.unwrap().to_bytes().to_vec())
    }

    #[tokio::test]
    async fn small_and_large_answers_are_the_same_json_with_their_length() {
        for size in [0, 10, CHUNK_BYTES - 20, CHUNK_BYTES, 3 * CHUNK_BYTES + 7] {
            let value = serde_json::json!({"status": "success", "result": "x".repeat(size)});
            let (length, bytes) = answer(&value).await;
            assert_eq!(bytes, serde_json::to_vec(&value).unwrap());
            assert_eq!(length, Some(bytes.len() as u64));
        }
    }
}
