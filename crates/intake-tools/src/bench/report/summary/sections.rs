//! The scale and grouping parts of the summary (present when the run measured them).

use serde_json::Value;

use super::list;
use crate::bench::report::format::{figure, latency, percent, show, verdict};
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

/// One row of the grouping table: both arms of one closed loop.
fn arms_row(title: &str, arms: &Value) -> String {
    let (on, off) = (&arms["on"], &arms["off"]);
    format!(
        "| {title} | {} | {} | {} | {} / {} | {} / {} | {} / {} |",
        e_with_runs(on),
        e_with_runs(off),
        percent(&arms["E_on_over_off"]),
        percent(&on["E_over_B"]),
        percent(&off["E_over_B"]),
        figure(&on["rabbitmq_us_per_upload"]),
        figure(&off["rabbitmq_us_per_upload"]),
        verified(on),
        verified(off)
    )
}

/// `on / off` of one figure of the arms' time splits.
fn split_pair(arms: &Value, field: &str) -> String {
    format!(
        "{} / {}",
        figure(&arms["on"]["time"][field]),
        figure(&arms["off"]["time"][field])
    )
}

/// Where JSON's closed loops spent their latency: the client's mean beside the front's
/// wait for the broker.
fn time_split(x: &Value, out: &mut Vec<String>) {
    let g = &x["grouping"];
    out.extend([
        String::new(),
        "| JSON closed loop (means; medians of the rounds) | latency ms, on / off | awaiting \
         the broker in the front ms, on / off | uploads per message, on / off |"
            .into(),
        "|---|---|---|---|".into(),
    ]);
    for (in_flight, arms) in [
        (&x["run"]["concurrency"], &g["shapes"]["json"]),
        (&g["wide_concurrency"], &g["wide"]),
    ] {
        out.push(format!(
            "| {} in flight | {} | {} | {} |",
            show(in_flight),
            split_pair(arms, "latency_mean_ms"),
            split_pair(arms, "awaiting_broker_ms"),
            split_pair(arms, "uploads_per_message")
        ));
    }
}

pub fn grouping(x: &Value, out: &mut Vec<String>) {
    let g = &x["grouping"];
    if g.is_null() {
        return;
    }
    out.extend([
        String::new(),
        format!(
            "### Grouping on vs off (front.group_publish; closed loop {}, --verify; rounds in \
             rotating order: {}, E their median)",
            show(&x["run"]["concurrency"]),
            show(&g["runs"])
        ),
        String::new(),
    ]);
    let supported = g["supported"].as_bool().unwrap_or(false);
    if !supported {
        out.push(
            "**This intake-front has no front.group_publish: both arms ran without it (an A/A \
             comparison); the targets below are not evidence.**"
                .into(),
        );
        out.push(String::new());
    }
    out.extend([
        "| shape | E on, median (runs) | E off, median (runs) | on/off | E/B on / off | RabbitMQ \
         CPU µs/upload on / off | verified on / off |"
            .into(),
        "|---|---|---|---|---|---|---|".into(),
    ]);
    for (title, key) in [
        ("1 KB JSON", "json"),
        ("urlencoded", "form"),
        ("multipart 100 KB", "multipart"),
    ] {
        out.push(arms_row(title, &g["shapes"][key]));
    }
    if !g["wide"]["on"]["E"].is_null() || !g["wide"]["off"]["E"].is_null() {
        let title = format!("1 KB JSON, closed loop {}", show(&g["wide_concurrency"]));
        out.push(arms_row(&title, &g["wide"]));
    }
    time_split(x, out);
    let rounds = list(&g["latency"])
        .first()
        .map_or_else(|| "?".to_owned(), |level| show(&level["rounds"]));
    out.extend([
        String::new(),
        format!(
            "| JSON, open loop (same load both arms; each percentile the median of {rounds} \
             rounds) | offered/s | p50 / p99 / p99.9 ms on | p50 / p99 / p99.9 ms off |"
        ),
        "|---|---|---|---|".into(),
    ]);
    for level in list(&g["latency"]) {
        out.push(format!(
            "| {}% of E off | {} | {} | {} |",
            show(&level["percent"]),
            figure(&level["offered_per_second"]),
            latency(&level["on"]),
            latency(&level["off"])
        ));
    }
    let t = &g["targets"];
    out.push(String::new());
    out.push(format!(
        "Targets: JSON E on / B ≥ 120%: {} ({}); p99 at 50% of E ≤ 10 ms with grouping on: {} ms \
         ({}); p50 at 10% of E not larger with grouping on: {} vs {} ms ({}); every accepted \
         upload verified: {}.",
        percent(&t["json_E_over_B_on"]),
        verdict(&t["json_E_over_B_met"]),
        figure(&t["p99_at_50_on_ms"]),
        verdict(&t["p99_at_50_met"]),
        // As recorded (to the microsecond): the verdict compares these, not rounded ones.
        show(&t["p50_at_10_on_ms"]),
        show(&t["p50_at_10_off_ms"]),
        verdict(&t["p50_at_10_met"]),
        verdict(&t["all_verified"])
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_sections_show_each_setup_and_each_arm_and_say_when_grouping_was_missing() {
        let rounds = json!({"E": 1000.0, "E_runs": [990.0, 1000.0], "verified": 20,
                            "expected": 20, "failed": 0, "rabbitmq_us_per_upload": 80.0,
                            "E_over_B": 1.25, "time": {"latency_mean_ms": 4.9,
                            "awaiting_broker_ms": 3.33, "uploads_per_message": 23.1}});
        let mut setup = rounds.clone();
        setup["setup"] = json!("cluster-p3");
        setup["E_over_single_p1"] = json!(0.5);
        let x = json!({
            "run": {"concurrency": 64},
            "scale": {"runs": 2, "cluster": "started", "setups": [setup]},
            "grouping": {"supported": false, "runs": 2,
                "shapes": {"json": {"on": rounds, "off": rounds, "E_on_over_off": 1.0}},
                "latency": [{"percent": 10, "offered_per_second": 100.0,
                             "on": {"p50": 1.0, "p99": 2.0, "p999": 3.0}, "off": null}],
                "targets": {"json_E_over_B_on": 1.25, "json_E_over_B_met": true}}
        });
        let mut out = Vec::new();
        scale(&x, &mut out);
        grouping(&x, &mut out);
        let text = out.join("\n");
        assert!(
            text.contains("| 3-node cluster, 3 partitions | 1000 (990, 1000) | 50% | 80 | 20/20 |"),
            "{text}"
        );
        assert!(text.contains("both arms ran without it"), "{text}");
        assert!(
            text.contains("| 64 in flight | 4.9 / 4.9 | 3.33 / 3.33 | 23.1 / 23.1 |"),
            "{text}"
        );
        assert!(
            text.contains("| 10% of E off | 100 | 1 / 2 / 3 | – / – / – |"),
            "{text}"
        );
        assert!(text.contains("JSON E on / B ≥ 120%: 125% (met)"), "{text}");
        let mut none = Vec::new();
        scale(&json!({}), &mut none);
        grouping(&json!({}), &mut none);
        assert!(none.is_empty());
    }
}
