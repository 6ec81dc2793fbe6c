//! Any bytes as a multipart body (boundary `fuzz`), delivered in uneven chunks: decoding
//! and validation never panic, and a repeated point is kept once.
#![no_main]

use std::sync::OnceLock;

use bytes::Bytes;
use intake::decode::MultipartLimits;
use intake::session::Limits;
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
    // The first byte picks the chunk size, so part boundaries straddle chunks.
    let Some((&split, rest)) = body.split_first() else {
        return;
    };
    let size = usize::from(split).max(1);
    let chunks: Vec<Result<Bytes, std::io::Error>> = rest
        .chunks(size)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let limits = MultipartLimits::new(1 << 20, &Limits::default());
    let decoded = runtime().block_on(intake::decode::multipart::decode(
        stream,
        "fuzz".into(),
        &limits,
    ));
    if let Ok(raw) = decoded {
    // Repeated points: the last occurrence is the one kept, so no name is kept twice.
    let mut names = std::collections::HashSet::new();
    assert!(
        raw.points
            .iter()
            .all(|(name, _)| names.insert(name.to_lowercase())),
        "a point is kept twice"
    );
        let _ = raw.parse(&Limits::default(), 1_000);
    }
});
