//! `make bench`: each stage's physical limit on this machine beside the project's own figure
//! for the same work, measured in one run so their ratio is fair, the end-to-end runs that
//! drive them ([`run`]) and the report ([`report`]).
//! Used only by the `intake-bench` binary; nothing here is on a production path.

pub mod broker;
pub mod database;
pub mod http;
pub mod list;
pub mod machine;
pub mod median;
pub mod report;
pub mod run;
pub mod sample;

use serde::Serialize;

use crate::loadgen_payload::pseudo_random_bytes;
use intake::session::{
    FileAttachment, Limits, RawSession, RawValue, Session, remember_file_digests,
};

/// A measured rate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    /// Items handled.
    pub count: u64,
    /// Seconds it took.
    pub seconds: f64,
    /// Items per second.
    pub per_second: f64,
}

impl Rate {
    /// The rate of `count` items in `elapsed`.
    pub fn of(count: u64, elapsed: std::time::Duration) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Self {
            count,
            seconds,
            per_second: count as f64 / seconds,
        }
    }
}

/// What each benchmark session carries, matching the end-to-end shapes: `points` text points
/// (~60 bytes each) and, when `file_bytes > 0`, one file point as a multipart body has it,
/// with the same incompressible bytes as `intake loadgen` sends.
#[derive(Debug, Clone, Copy, Serialize, clap::Args)]
pub struct Shape {
    /// Text points per session.
    #[arg(long, default_value_t = 10)]
    pub points: usize,
    /// Size of the file point, bytes (0 = none).
    #[arg(long, default_value_t = 0)]
    pub file_bytes: usize,
}

/// Session `index` of the benchmark, one of `uuid_space` uuids (later indexes replace).
pub fn sample_session(index: u64, uuid_space: u64, shape: &Shape) -> Option<Session> {
    let mut points: Vec<(String, RawValue)> = (0..shape.points)
        .map(|p| {
            (
                format!("p{p}"),
                RawValue::Text(format!(
                    "value {index}-{p} of a typical field form, 60 bytes"
                )),
            )
        })
        .collect();
    if shape.file_bytes > 0 {
        let bytes = pseudo_random_bytes(shape.file_bytes);
        points.push((
            "photo".into(),
            RawValue::File(FileAttachment {
                filename: Some(format!("photo-{index}.jpg")),
                content_type: "image/jpeg".into(),
                bytes,
                md5: None,
            }),
        ));
    }
    RawSession {
        uuid: Some(format!("bench-{}", index % uuid_space.max(1))),
        unit_id: Some(format!("unit-{}", index % 500)),
        created: Some("1700000000".into()),
        saved: Some("1700000000".into()),
        points,
        ..RawSession::default()
    }
    .parse(&Limits::default(), 1_700_000_000)
    .ok()
    // As the front publishes it: with the file's digest, which the consumer reuses.
    .map(|mut session| {
        remember_file_digests(&mut session.points);
        session
    })
}
