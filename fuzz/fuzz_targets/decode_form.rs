//! Any bytes as an urlencoded create body: decoding and validation never panic.
#![no_main]

use intake::session::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(raw) = intake::decode::form::decode(body, Limits::default().max_points) {
        let _ = raw.parse(&Limits::default(), 1_000);
    }
});
