//! Any bytes as a JSON create body: decoding and validation never panic, and whatever is
//! accepted survives the queue encoding unchanged.
#![no_main]

use intake::ordering::Stamp;
use intake::session::Limits;
use intake::wire::Upload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(raw) = intake::decode::json::decode(body, Limits::default().max_points) {
        if let Ok(session) = raw.parse(&Limits::default(), 1_000) {
            let upload = Upload::create(1, Stamp::now("fuzz"), session);
            let decoded = Upload::decode(&upload.encode(), &Limits::default());
            assert_eq!(decoded.ok(), Some(upload));
        }
    }
});
