//! `intake loadgen`: a simulated fleet posting signed sessions to a running front, to find
//! out what an installation sustains and that every accepted upload lands.
//!
//! Two ways to offer load. Closed loop (`Pace::Concurrency`): C workers each send the next
//! request when the previous one is answered, which finds the peak throughput. Open loop
//! (`Pace::Rate`): requests are due at fixed intervals whatever the server does, and latency
//! is measured from the time a request was *due*, not from when it could be sent; a server
//! that stalls is charged for every request it kept waiting (no coordinated omission).

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

pub use crate::loadgen_options::{Limit, LoadgenOptions, Pace};
use crate::loadgen_payload::expected_points;
use crate::loadgen_report::{Latency, LoadgenReport};
use crate::loadgen_verify::{Candidate, Expected, verify};
use crate::loadgen_worker::{Fleet, Outcome, unit_for, uuid_for};
use crate::{Schedule, ToolError};

/// Runs the load, then (if asked) the verification, and returns the report.
pub async fn run(options: LoadgenOptions) -> Result<LoadgenReport, ToolError> {
    check(&options)?;
    let (workers, mode) = match options.pace {
        Pace::Rate {
            per_second,
            max_in_flight,
        } => (
            max_in_flight.max(1),
            format!("open loop, {per_second}/s, at most {max_in_flight} in flight"),
        ),
        Pace::Concurrency(c) => (c.max(1), format!("closed loop, {c} in flight")),
    };
    let verify_options = options.verify.clone();
    let fleet = Fleet::new(options)?;
    let outcome = fleet.drive(workers).await?;
    let mut report = fleet.report(&mode, &outcome);
    if let Some(verify_options) = verify_options {
        let expected = fleet.expectations(&outcome);
        let project_id = fleet.options.project_id;
        let verdict =
            tokio::task::spawn_blocking(move || verify(project_id, expected, &verify_options))
                .await
                .map_err(|error| ToolError::Task(error.to_string()))??;
        report.verify = Some(verdict);
    }
    Ok(report)
}

fn check(options: &LoadgenOptions) -> Result<(), ToolError> {
    let problem = if !(0.0..=1.0).contains(&options.replace_ratio) {
        Some("--replace-ratio must be between 0 and 1")
    } else if options.devices == 0 {
        Some("--devices must be at least 1")
    } else if options.project_id <= 0 {
        Some("--project must be a positive project id")
    } else if matches!(options.pace, Pace::Rate { per_second, .. } if Schedule::new(per_second).is_none())
    {
        Some("--rate must be a positive number")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ToolError::Options(problem.into())),
        None => Ok(()),
    }
}

/// Turning what the fleet counted into the report and the expectations.
impl Fleet {
    /// The report of a finished run (without verification).
    pub(super) fn report(&self, mode: &str, outcome: &Outcome) -> LoadgenReport {
        let shared = self;
        let (elapsed, distinct) = (outcome.elapsed, outcome.newest.len() as u64);
        let histogram = shared
            .histogram
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (by_status, transport) = shared
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let accepted = shared.accepted.load(Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let names = ["json", "form", "multipart"];
        LoadgenReport {
            url: shared.options.url.clone(),
            mode: mode.to_owned(),
            elapsed_seconds: seconds,
            sent: shared.sent.load(Ordering::Relaxed),
            accepted,
            failed: shared.failed.load(Ordering::Relaxed),
            failed_by_status: by_status,
            transport_errors: transport,
            throughput_per_second: if seconds > 0.0 {
                accepted as f64 / seconds
            } else {
                0.0
            },
            distinct_uuids: distinct,
            sent_by_encoding: names
                .iter()
                .zip(&shared.encodings)
                .map(|(name, count)| ((*name).to_owned(), count.load(Ordering::Relaxed)))
                .collect(),
            latency_ms: Latency::from_histogram(&histogram),
            verify: None,
            timeseries: shared
                .timeseries
                .as_ref()
                .map(|recorder| recorder.seconds())
                .unwrap_or_default(),
        }
    }

    /// What the database must hold: the last-accepted upload of every uuid, or one of the
    /// uploads of that uuid whose answer was lost (it may have landed after the accepted one).
    pub(super) fn expectations(&self, outcome: &Outcome) -> Vec<Expected> {
        let points = self.options.points;
        outcome
            .newest
            .iter()
            .map(|(key, accepted)| Expected {
                uuid: uuid_for(&self.run_id, *key),
                upload_id: accepted.upload_id,
                unit_id: unit_for(accepted.device),
                points: expected_points(accepted.seq, points),
                unanswered: outcome
                    .unanswered
                    .get(key)
                    .into_iter()
                    .flatten()
                    .map(|send| Candidate {
                        unit_id: unit_for(send.device),
                        points: expected_points(send.seq, points),
                    })
                    .collect(),
            })
            .collect()
    }
}
