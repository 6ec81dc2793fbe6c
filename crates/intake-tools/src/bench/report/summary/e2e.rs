//! The end-to-end part of the summary: E per shape beside its bound, latency, CPU, the
//! overload run and the consumers' outcomes.

use serde_json::Value;

use super::list;
use crate::bench::report::format::{figure, latency, mib, number, percent, show, verdict};

/// The highest number among `values`, as the report's `max` treats missing ones.
fn highest<'a>(values: impl IntoIterator<Item = &'a Value>) -> Value {
    values
        .into_iter()
        .filter_map(Value::as_f64)
        .reduce(f64::max)
        .map_or(Value::Null, Value::from)
}

pub fn end_to_end(x: &Value, out: &mut Vec<String>) {
    let e = &x["e2e"];
    let shapes = [
        ("1 KB JSON, 10 points", "JSON", &e["json"]),
        ("urlencoded, 10 points", "urlencoded", &e["form"]),
        (
            "multipart, 2 points + 100 KB file",
            "multipart",
            &e["multipart_100k"],
        ),
    ];
    out.extend([
        String::new(),
        "### End to end (real front and consumer, --verify)".into(),
        String::new(),
        "| shape | E accepted/s, median (runs) | landed/s, median | E/B | verified | p50 / p99 / \
         p99.9 ms at 50% E | p99/p50 | p50 / p99 / p99.9 ms at 90% E | peak RSS front / \
         consumer |"
            .into(),
        "|---|---|---|---|---|---|---|---|---|".into(),
    ]);
    for (title, _, r) in shapes {
        let runs: Vec<String> = list(&r["E_runs"]).iter().map(figure).collect();
        let loads = [&r["closed"], &r["open50"], &r["open90"]];
        let peak = |field: &str| highest(loads.iter().map(|run| &run["memory_kib"][field]));
        out.push(format!(
            "| {title} | {} ({}) | {} | {} (≥ 70%: {}); landed {} | {}/{} | {} | {} (≤ 5: {}) \
             | {} | {} / {} |",
            figure(&r["E"]),
            runs.join(", "),
            figure(&r["landed_per_second"]),
            percent(&r["E_over_B"]),
            verdict(&r["E_over_B_met"]),
            percent(&r["landed_over_B"]),
            show(&r["closed"]["verify"]["verified"]),
            show(&r["closed"]["verify"]["expected"]),
            latency(&r["open50"]["latency_ms"]),
            figure(&r["p99_over_p50_at_50"]),
            verdict(&r["p99_over_p50_met"]),
            latency(&r["open90"]["latency_ms"]),
            mib(&peak("front_peak_kib")),
            mib(&peak("consumer_peak_kib"))
        ));
    }
    let closed: Vec<String> = shapes
        .iter()
        .map(|(_, name, r)| format!("{name} {}", latency(&r["closed"]["latency_ms"])))
        .collect();
    out.push(String::new());
    out.push(format!(
        "Closed-loop latency p50 / p99 / p99.9 ms: {}.",
        closed.join("; ")
    ));
    out.push(String::new());
    let other = highest(shapes.iter().map(|(_, _, r)| &r["cpu_cores"]["other"]));
    let busy_before = &x["run"]["machine_busy_percent_before"];
    let other_high = other.as_f64().is_some_and(|other| other > 0.25);
    if other_high || busy_before.as_f64().is_some_and(|busy| busy >= 15.0) {
        out.push(format!(
            "**Warning:** up to {}% of a core went to work outside the pipeline (machine busy \
             {}% before the stages): something else ran on the machine and the figures are \
             low.\n",
            other
                .as_f64()
                .map_or_else(|| "null".into(), |o| number((o * 100.0).round())),
            show(busy_before)
        ));
    }
    let cpu: Vec<String> = shapes
        .iter()
        .map(|(_, name, r)| {
            let cores: Vec<String> = cpu_split(&r["cpu_cores"])
                .map(|(who, cores)| {
                    let cores = cores.as_f64().unwrap_or_default();
                    format!("{who} {}", number((cores * 100.0).round() / 100.0))
                })
                .collect();
            format!("{name}: {}", cores.join(", "))
        })
        .collect();
    out.push(format!(
        "CPU while the closed loop sends (cores of {}): {}.",
        show(&x["machine"]["nproc"]),
        cpu.join("; ")
    ));
    out.push(String::new());
    overload(&e["json_overload"], out);
    out.push(String::new());
    out.push(format!(
        "Consumer outcomes over the end-to-end runs: {}.",
        show(&e["consumer_outcomes"])
    ));
}

/// Who used the CPU, in the order the sampling lists them, then anything else.
const CPU_USERS: [&str; 7] = [
    "loadgen",
    "front",
    "consumer",
    "rabbitmq",
    "postgresql",
    "machine_busy",
    "other",
];

fn cpu_split(cores: &Value) -> impl Iterator<Item = (&str, &Value)> {
    let fields = cores.as_object();
    let known = CPU_USERS
        .iter()
        .filter_map(move |who| Some((*who, fields?.get(*who)?)));
    let rest = fields
        .into_iter()
        .flatten()
        .filter(|(who, _)| !CPU_USERS.contains(&who.as_str()))
        .map(|(who, cores)| (who.as_str(), cores));
    known.chain(rest)
}

fn overload(o: &Value, out: &mut Vec<String>) {
    let mut other_statuses = o["failed_by_status"].clone();
    if let Value::Object(statuses) = &mut other_statuses {
        statuses.remove("503");
    }
    let series: Vec<String> = list(&o["accepted_per_second_series"])
        .iter()
        .map(show)
        .collect();
    out.push(format!(
        "Overload (JSON, open loop {}/s = 2×E, --max-in-flight 4096): accepted {}/s ({} of E), \
         {} × 503 of {} sent, other statuses {}, transport errors {}; latency p50 / p99 / p99.9 \
         {} ms; verified {}/{}; peak RSS front {}, consumer {}. Accepted per second: {}.",
        figure(&o["offered_per_second"]),
        figure(&o["accepted_per_second"]),
        percent(&o["accepted_over_E"]),
        show(&o["rejected_503"]),
        show(&o["sent"]),
        show(&other_statuses),
        show(&o["transport_errors"]),
        latency(&o["latency_ms"]),
        show(&o["verify"]["verified"]),
        show(&o["verify"]["expected"]),
        mib(&o["memory_kib"]["front_peak_kib"]),
        mib(&o["memory_kib"]["consumer_peak_kib"]),
        series.join(" ")
    ));
}
