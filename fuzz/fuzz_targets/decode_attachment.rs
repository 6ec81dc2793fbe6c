//! Any bytes as an attachment write's body, raw or multipart (boundary `fuzz`), delivered in
//! uneven chunks: decoding never panics, and a decoded file passes or fails the file rules
//! without panicking either.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use hyper::body::Frame;
use intake::decode::BodyHeaders;
use libfuzzer_sys::fuzz_target;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|body: &[u8]| {
    // The first byte picks the chunk size and, by its low bit, raw or multipart.
    let Some((&split, rest)) = body.split_first() else {
        return;
    };
    let content_type = if split & 1 == 0 {
        "application/octet-stream"
    } else {
        "multipart/form-data; boundary=fuzz"
    };
    let size = usize::from(split >> 1).max(1);
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = rest
        .chunks(size)
        .map(|chunk| Ok(Frame::data(Bytes::copy_from_slice(chunk))))
        .collect();
    let stream = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let headers = BodyHeaders {
        content_type: Some(content_type),
        content_length: None,
    };
    let decoded = runtime().block_on(intake::decode::attachment::decode(
        headers,
        stream,
        1 << 20,
        Some("fuzz.bin".into()),
    ));
    if let Ok(file) = decoded {
        let _ = intake::session::check_file(&file);
    }
});
