//! Any bytes as a queue message body: the consumer's decoder (a group split into its
//! uploads, then each upload decoded) never panics, and what it accepts re-encodes to an
//! equal upload.
#![no_main]

use intake::session::Limits;
use intake::wire::{Upload, split_bodies};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok(bodies) = split_bodies(body) else {
        return;
    };
    for body in bodies {
        if let Ok(upload) = Upload::decode(body, &Limits::default()) {
            let again = Upload::decode(&upload.encode(), &Limits::default());
            assert_eq!(again.ok(), Some(upload));
        }
    }
});
