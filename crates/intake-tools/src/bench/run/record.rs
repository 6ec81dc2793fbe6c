//! run.json: what was measured and how (start, length, knobs, commit, how busy the machine
//! was), which the report puts at the head of results.json.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Bench;
use crate::bench::sample::write_json;

/// The run's own description.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    pub started: String,
    pub elapsed_seconds: u64,
    pub bench_seconds: u64,
    pub concurrency: u64,
    pub commit: String,
    pub uncommitted: Vec<String>,
    pub stage_runs: u64,
    pub soak_seconds: u64,
    pub machine_busy_percent_before: u64,
    pub perf_note: String,
}

/// A Unix time as the report writes it (`2024-05-01T12:00:00Z`).
pub fn utc(unix_seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix_seconds, 0).map_or_else(String::new, |at| {
        at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

impl Bench {
    /// The record of this run so far.
    pub(super) fn run_record(&self) -> RunRecord {
        RunRecord {
            started: utc(self.started_at),
            elapsed_seconds: self.started.elapsed().as_secs(),
            bench_seconds: self.s.seconds,
            concurrency: self.s.concurrency,
            commit: self.commit.clone(),
            uncommitted: self.uncommitted.clone(),
            stage_runs: self.s.stage_runs,
            soak_seconds: self.s.soak_seconds,
            machine_busy_percent_before: self.busy_before,
            perf_note: self.perf_note.clone(),
        }
    }

    pub(super) fn write_run_record(&self) -> anyhow::Result<()> {
        write_json(&self.path("run.json"), &self.run_record())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use crate::bench::report::{Inputs, results};

    #[test]
    fn the_start_is_written_in_utc() {
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn the_record_becomes_the_reports_run_without_the_perf_note() {
        let record = RunRecord {
            started: utc(0),
            elapsed_seconds: 300,
            bench_seconds: 3,
            concurrency: 64,
            commit: "abc1234".into(),
            uncommitted: vec!["src/config.rs".into()],
            stage_runs: 3,
            soak_seconds: 0,
            machine_busy_percent_before: 4,
            perf_note: "not run (BENCH_PERF=0)".into(),
        };
        let inputs = Inputs {
            run: serde_json::to_value(&record).expect("serializable"),
            ..Inputs::default()
        };
        let results =
            serde_json::to_value(results(&inputs, serde_json::Value::Null)).expect("serializable");
        let run = results["run"].as_object().expect("an object");
        let keys: Vec<&str> = run.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "bench_seconds",
                "commit",
                "concurrency",
                "elapsed_seconds",
                "machine_busy_percent_before",
                "soak_seconds",
                "stage_runs",
                "started",
                "uncommitted"
            ]
        );
        assert_eq!(results["profile"]["note"], "not run (BENCH_PERF=0)");
        assert_eq!(results["run"]["uncommitted"][0], "src/config.rs");
    }
}
