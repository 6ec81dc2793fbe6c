//! The scale section: E (JSON, closed loop) with broker.partitions 1 and 3, on the single
//! node and on the local 3-node cluster, each beside the single node with one partition.

use serde::Serialize;
use serde_json::Value;

use super::Runs;
use super::rounds::{Rounds, rounds};
use super::stages::ratio;

/// The setup the others are compared with.
const BASELINE: &str = "single-p1";

/// One setup (`single-p1`, `cluster-p3`, …): where the broker ran and how many partitions.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Setup {
    pub setup: String,
    #[serde(flatten)]
    pub rounds: Rounds,
    pub E_over_single_p1: Option<f64>,
}

/// The section as results.json keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    /// Rounds asked for, and what became of the cluster (started, already running, …).
    pub runs: Value,
    pub cluster: Value,
    pub setups: Vec<Setup>,
}

/// The section, when the run had it (`meta` is its `scale.json`).
pub fn scale(runs: &Runs, meta: &Value) -> Option<Scale> {
    let names: Vec<&str> = meta["setups"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let baseline = rounds(runs, &format!("scale-{BASELINE}")).E;
    let setups = names
        .into_iter()
        .map(|setup| {
            let rounds = rounds(runs, &format!("scale-{setup}"));
            Setup {
                setup: setup.to_owned(),
                E_over_single_p1: ratio(rounds.E, baseline),
                rounds,
            }
        })
        .collect();
    Some(Scale {
        runs: meta["runs"].clone(),
        cluster: meta["cluster"].clone(),
        setups,
    })
}

/// How a setup's name reads in the summary.
pub fn describe(setup: &str) -> String {
    let (where_, partitions) = setup.split_once("-p").unwrap_or((setup, "?"));
    let place = match where_ {
        "single" => "single node",
        "cluster" => "3-node cluster",
        other => other,
    };
    let plural = if partitions == "1" { "" } else { "s" };
    format!("{place}, {partitions} partition{plural}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn each_setup_is_compared_with_the_single_node_with_one_partition() {
        let run = |rate: f64| json!({"throughput_per_second": rate});
        let runs = Runs::from_iter([
            ("scale-single-p1-r1".to_owned(), run(1000.0)),
            ("scale-cluster-p3-r1".to_owned(), run(600.0)),
        ]);
        let meta = json!({"runs": 1, "cluster": "started", "setups": ["single-p1", "cluster-p3", "single-p3"]});
        let section = scale(&runs, &meta).expect("a section");
        let ratios: Vec<_> = section.setups.iter().map(|s| s.E_over_single_p1).collect();
        assert_eq!(ratios, [Some(1.0), Some(0.6), None]);
        assert!(scale(&runs, &Value::Null).is_none());
        assert_eq!(describe("cluster-p3"), "3-node cluster, 3 partitions");
        assert_eq!(describe("single-p1"), "single node, 1 partition");
    }
}
