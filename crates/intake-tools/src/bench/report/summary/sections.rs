//! The scale part of the summary (present when the run measured it).

use serde_json::Value;

use super::list;
use crate::bench::report::format::{figure, percent, show};
use crate::bench::report::scale::describe;

/// `E (run, run, …)`.
fn e_with_runs(rounds: &Value) -> String {
    let runs: Vec<String> = list(&rounds["E_runs"]).iter().map(figure).collect();
    format!("{} ({})", figure(&rounds["E"]), runs.join(", "))
}

/// `verified/expected`, with failed requests when there were any.
fn verified(rounds: &Value) -> String {
    let failed = rounds["failed"].as_u64().unwrap_or(0);
    let failed = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    format!(
        "{}/{}{failed}",
        show(&rounds["verified"]),
        show(&rounds["expected"])
    )
}

pub fn scale(x: &Value, out: &mut Vec<String>) {
    let s = &x["scale"];
    if s.is_null() {
        return;
    }
    out.extend([
        String::new(),
        format!(
            "### Scale: partitions and the local 3-node cluster (1 KB JSON, closed loop {}, \
             --verify; rounds in rotating order: {}, E their median)",
            show(&x["run"]["concurrency"]),
            show(&s["runs"])
        ),
        String::new(),
        "| setup | E accepted/s, median (runs) | E / single node, 1 partition | RabbitMQ CPU \
         µs/upload (all nodes) | verified |"
            .into(),
        "|---|---|---|---|---|".into(),
    ]);
    for setup in list(&s["setups"]) {
        out.push(format!(
            "| {} | {} | {} | {} | {} |",
            describe(&show(&setup["setup"])),
            e_with_runs(setup),
            percent(&setup["E_over_single_p1"]),
            figure(&setup["rabbitmq_us_per_upload"]),
            verified(setup)
        ));
    }
    out.push(String::new());
    out.push(format!(
        "The cluster: {} (scripts/cluster.sh; the front starts its broker.url list at node 1, \
         the consumer at node 2; front.publish_timeout_ms 10000).",
        show(&s["cluster"])
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_scale_section_shows_each_setup_beside_the_single_node() {
        let x = json!({
            "run": {"concurrency": 64},
            "scale": {"runs": 2, "cluster": "started", "setups": [{
                "setup": "cluster-p3", "E": 1000.0, "E_runs": [990.0, 1000.0], "verified": 20,
                "expected": 20, "failed": 0, "rabbitmq_us_per_upload": 80.0,
                "E_over_single_p1": 0.5}]}
        });
        let mut out = Vec::new();
        scale(&x, &mut out);
        let text = out.join("\n");
        assert!(
            text.contains("| 3-node cluster, 3 partitions | 1000 (990, 1000) | 50% | 80 | 20/20 |"),
            "{text}"
        );
        let mut none = Vec::new();
        scale(&json!({}), &mut none);
        assert!(none.is_empty());
    }
}
