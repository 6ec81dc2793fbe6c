//! Any bytes as an urlencoded create body: decoding and validation never panic, and a
//! repeated point is kept once.
#![no_main]

use intake::session::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(raw) = intake::decode::form::decode(body, Limits::default().max_points) {
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
