//! Any bytes as a JSON create body: decoding and validation never panic, and whatever is
//! accepted survives the queue encoding unchanged; a repeated point is kept once.
#![no_main]

use intake::ordering::Stamp;
use intake::session::Limits;
use intake::wire::Upload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(raw) = intake::decode::json::decode(body, Limits::default().max_points) {
    // Repeated points: the last occurrence is the one kept, so no name is kept twice.
    let mut names = std::collections::HashSet::new();
    assert!(
        raw.points
            .iter()
            .all(|(name, _)| names.insert(name.to_lowercase())),
        "a point is kept twice"
    );
        if let Ok(session) = raw.parse(&Limits::default(), 1_000) {
            let upload = Upload::create(1, Stamp::now("fuzz"), session);
            let decoded = Upload::decode(&upload.encode(), &Limits::default());
            assert_eq!(decoded.ok(), Some(upload));
        }
    }
});
