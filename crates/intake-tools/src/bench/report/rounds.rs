//! Closed-loop rounds of one setup folded into its figures: E (the median) with each round's
//! rate, the broker's CPU per upload, and whether every accepted upload was found stored.

use serde::Serialize;
use serde_json::Value;

use super::Runs;
use super::e2e::median_of;
use super::stages::round1;
use crate::bench::median::median;

/// One setup's rounds, folded.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Rounds {
    pub E_runs: Vec<Option<f64>>,
    pub E: Option<f64>,
    /// RabbitMQ's CPU (every beam.smp on the machine) per accepted upload, microseconds:
    /// the median over the rounds of its cores while the round sent over the round's rate.
    pub rabbitmq_us_per_upload: Option<f64>,
    /// Uploads the rounds' `--verify` found stored, and those it looked for.
    pub verified: u64,
    pub expected: u64,
    /// Requests answered with an error status or lost to a transport error.
    pub failed: u64,
    /// Whether every round verified every upload it had accepted; null without rounds.
    pub all_verified: Option<bool>,
}

/// Whether a loadgen run's `--verify` found every accepted upload (false without a verify).
pub fn fully_verified(run: &Value) -> bool {
    let verify = &run["verify"];
    verify["expected"].as_u64().is_some() && verify["verified"] == verify["expected"]
}

/// The rounds `<prefix>-r<N>` with their `.cpu` companions.
pub fn rounds(runs: &Runs, prefix: &str) -> Rounds {
    let rounds = runs.rounds(prefix);
    let rates: Vec<Option<f64>> = rounds
        .iter()
        .map(|(_, run)| run["throughput_per_second"].as_f64())
        .collect();
    let cpu_per_upload: Vec<Option<f64>> = rounds
        .iter()
        .zip(&rates)
        .map(|((name, _), rate)| {
            let cores = runs.number(&format!("{name}.cpu"), "rabbitmq")?;
            rate.filter(|rate| *rate > 0.0)
                .map(|rate| cores / rate * 1e6)
        })
        .collect();
    let count = |field: &str| -> u64 {
        rounds
            .iter()
            .filter_map(|(_, run)| run["verify"][field].as_u64())
            .sum()
    };
    Rounds {
        E_runs: rates.iter().map(|rate| rate.map(round1)).collect(),
        E: median_of(&rates).map(round1),
        // Over the rounds that have a sample.
        rabbitmq_us_per_upload: median(&cpu_per_upload.into_iter().flatten().collect::<Vec<_>>())
            .map(round1),
        verified: count("verified"),
        expected: count("expected"),
        failed: rounds
            .iter()
            .filter_map(|(_, run)| run["failed"].as_u64())
            .sum(),
        all_verified: (!rounds.is_empty())
            .then(|| rounds.iter().all(|(_, run)| fully_verified(run))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rounds_fold_into_the_median_rate_and_the_brokers_cpu_per_upload() {
        let run = |rate: f64, verified: u64| {
            json!({"throughput_per_second": rate, "failed": 1,
                   "verify": {"expected": 100, "verified": verified}})
        };
        let runs = Runs::from_iter([
            ("scale-single-p1-r1".to_owned(), run(1000.0, 100)),
            ("scale-single-p1-r2".to_owned(), run(3000.0, 99)),
            ("scale-single-p1-r3".to_owned(), run(2000.0, 100)),
            (
                "scale-single-p1-r3.cpu".to_owned(),
                json!({"rabbitmq": 0.2}),
            ),
            ("scale-single-p1-r3.mem".to_owned(), json!({})),
            ("scale-single-p3-r1".to_owned(), run(9.0, 100)),
        ]);
        let folded = rounds(&runs, "scale-single-p1");
        assert_eq!(folded.E, Some(2000.0));
        assert_eq!(folded.E_runs, [Some(1000.0), Some(3000.0), Some(2000.0)]);
        // Only the third round has a CPU sample: 0.2 cores at 2000/s.
        assert_eq!(folded.rabbitmq_us_per_upload, Some(100.0));
        assert_eq!(
            (folded.verified, folded.expected, folded.failed),
            (299, 300, 3)
        );
        assert_eq!(folded.all_verified, Some(false));
        assert_eq!(rounds(&runs, "scale-cluster-p3").all_verified, None);
    }

    #[test]
    fn a_round_verifies_when_every_accepted_upload_was_found() {
        assert!(fully_verified(
            &json!({"verify": {"expected": 5, "verified": 5}})
        ));
        assert!(!fully_verified(
            &json!({"verify": {"expected": 5, "verified": 4}})
        ));
        assert!(!fully_verified(&json!({"accepted": 5})));
    }
}
