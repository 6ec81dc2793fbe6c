//! `summary.md`: the report for people, rendered from `results.json`.

use serde_json::Value;

use super::format::{figure, latency, mib, number, percent, show, verdict};

/// Request shapes in the order the tables list them: title, key in the stage figures.
const REQUEST_SHAPES: [(&str, &str); 3] = [
    ("1 KB JSON", "json"),
    ("urlencoded", "form"),
    ("multipart 100 KB", "multipart"),
];
/// Queue message shapes: title, key.
const MESSAGE_SHAPES: [(&str, &str); 2] = [
    ("10 points", "json"),
    ("2 points + 100 KB file", "multipart"),
];

fn list(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn text_lines(value: &Value) -> impl Iterator<Item = String> + '_ {
    list(value).iter().map(show)
}

/// The whole summary, one line per element, newline-terminated.
pub fn render(x: &Value) -> String {
    let mut out = Vec::new();
    heading(x, &mut out);
    stages(x, &mut out);
    end_to_end(x, &mut out);
    memory(x, &mut out);
    out.extend([
        String::new(),
        "### Micro-benchmarks (criterion: name | time [low est high] | throughput)".into(),
        String::new(),
        "```".into(),
    ]);
    out.extend(text_lines(&x["micro"]));
    out.extend(["```".into(), String::new()]);
    profile(&x["profile"], &mut out);
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn heading(x: &Value, out: &mut Vec<String>) {
    let run = &x["run"];
    let machine = &x["machine"];
    let uncommitted = list(&run["uncommitted"]);
    let changes = if uncommitted.is_empty() {
        String::new()
    } else {
        let files: Vec<String> = uncommitted.iter().map(show).collect();
        format!(" + uncommitted changes to {}", files.join(", "))
    };
    out.push(format!(
        "## intake benchmark, {} ({} s), commit {}{changes}",
        show(&run["started"]),
        show(&run["elapsed_seconds"]),
        show(&run["commit"])
    ));
    out.push(String::new());
    out.push(format!(
        "{} CPUs ({}), {} MiB, kernel {}; PostgreSQL {}, RabbitMQ {}, {}. Load runs {} s, \
         closed loop {} in flight. Every client and server shares these CPUs.",
        show(&machine["nproc"]),
        show(&machine["cpu"]),
        show(&machine["memory_mib"]),
        show(&machine["kernel"]),
        show(&machine["postgresql"]),
        show(&machine["rabbitmq"]),
        show(&machine["rustc"]),
        show(&run["bench_seconds"]),
        show(&run["concurrency"])
    ));
}

fn stages(x: &Value, out: &mut Vec<String>) {
    let s = &x["stages"];
    let concurrency = show(&x["run"]["concurrency"]);
    out.extend([
        String::new(),
        "### Stages: the limit on this machine beside the project".into(),
        String::new(),
        "| stage | limit on this machine | project | ratio | target |".into(),
        "|---|---|---|---|---|".into(),
    ]);
    for (title, key) in REQUEST_SHAPES {
        let h = &s["http"][key];
        out.push(format!(
            "| H: HTTP, {title}, closed loop {concurrency} (req/s) | bare axum H = {} | front \
             with a discarding publisher F = {} | {} | F/H ≥ 50%: {} |",
            figure(&h["H_bare"]),
            figure(&h["F_front_discard"]),
            percent(&h["ratio"]),
            verdict(&h["met"])
        ));
    }
    for (title, key) in MESSAGE_SHAPES {
        let q = &s["broker"][key];
        out.push(format!(
            "| Q: publish with confirms, window 1024, {title}, {} B (msg/s) | raw lapin P = {} \
             | front Publisher {} | {} | – |",
            show(&q["message_bytes"]),
            figure(&q["P_raw_publish"]),
            figure(&q["front_publish"]),
            percent(&q["front_publish_over_P"])
        ));
        out.push(format!(
            "| Q: consume, one multiple ack a batch, {title} (msg/s) | raw C = {} | consumer \
             decode + check + ack {} | {} | – |",
            figure(&q["C_raw_consume"]),
            figure(&q["consumer_decode_ack"]),
            percent(&q["consumer_decode_ack_over_C"])
        ));
        out.push(format!(
            "| Q = 1/(1/P + 1/C), {title} (msg/s) | {} | {} | {} | – |",
            figure(&q["Q"]),
            figure(&q["Q_project"]),
            percent(&q["Q_project_over_Q"])
        ));
    }
    for (title, key) in MESSAGE_SHAPES {
        let d = &s["database"][key];
        out.push(format!(
            "| D: write, {title}, {}-row batches, {} connections, half replacing (rows/s) | \
             bare unnest D = {} | write_batch W = {} | {} | W/D ≥ 80%: {} |",
            show(&d["batch"]),
            show(&d["workers"]),
            figure(&d["D_raw_upsert"]),
            figure(&d["W_write_path"]),
            percent(&d["ratio"]),
            verdict(&d["met"])
        ));
    }
    for (title, key) in REQUEST_SHAPES {
        let b = &s["bounds"][key];
        out.push(format!(
            "| B = 1/(1/H + 1/Q + 1/D), {title} (sessions/s) | {} | 1/(1/F + 1/Q′ + 1/W) = {} \
             | {} | – |",
            figure(&b["B"]),
            figure(&b["B_project"]),
            percent(&b["B_project_over_B"])
        ));
    }
}

/// The highest number among `values`, as the report's `max` treats missing ones.
fn highest<'a>(values: impl IntoIterator<Item = &'a Value>) -> Value {
    values
        .into_iter()
        .filter_map(Value::as_f64)
        .reduce(f64::max)
        .map_or(Value::Null, Value::from)
}

fn end_to_end(x: &Value, out: &mut Vec<String>) {
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

fn memory(x: &Value, out: &mut Vec<String>) {
    let m = &x["memory"];
    let p = &m["phases"];
    out.extend([
        String::new(),
        "### Memory (VmRSS / VmHWM; fresh front and consumer for each phase)".into(),
        String::new(),
        "| process | idle | peak, JSON | peak, urlencoded | peak, multipart | peak, overload | RSS \
         after overload | target |"
            .into(),
        "|---|---|---|---|---|---|---|---|".into(),
    ]);
    for (process, who, target) in [
        (
            "intake-front",
            "front",
            format!(
                "≤ 64 MiB: {} (overload: {})",
                verdict(&m["front_met"]),
                verdict(&m["front_overload_met"])
            ),
        ),
        (
            "intake-consumer",
            "consumer",
            format!("≤ 128 MiB: {}", verdict(&m["consumer_met"])),
        ),
    ] {
        let field = |phase: &str, what: &str| mib(&p[phase][format!("{who}_{what}_kib")]);
        out.push(format!(
            "| {process} | {} | {} | {} | {} | {} | {} | {target} |",
            field("json", "idle"),
            field("json", "peak"),
            field("form", "peak"),
            field("multipart_100k", "peak"),
            field("json_overload", "peak"),
            field("json_overload", "end"),
        ));
    }
    let c = &m["idle_connections"];
    let per_connection = match (
        c["front_holding_kib"].as_f64(),
        c["front_before_kib"].as_f64(),
        c["opened"].as_f64(),
    ) {
        (Some(holding), Some(before), Some(opened)) => {
            number(((holding - before) / opened * 10.0).round() / 10.0)
        }
        _ => "null".into(),
    };
    out.push(String::new());
    out.push(format!(
        "The fresh front holding {} idle keep-alive connections ({} still served after the \
         hold): {} → {} ({per_connection} KiB a connection); ≤ 64 MiB: {}.",
        show(&c["opened"]),
        show(&c["answered_after_hold"]),
        mib(&c["front_before_kib"]),
        mib(&c["front_holding_kib"]),
        verdict(&m["front_connections_met"])
    ));
    let soak = list(&m["soak"]);
    if !soak.is_empty() {
        let samples: Vec<String> = soak
            .iter()
            .map(|sample| {
                let whole_mib = |kib: &Value| {
                    kib.as_f64()
                        .map_or_else(|| "null".into(), |kib| number((kib / 1024.0).round()))
                };
                format!(
                    "{}: {} / {}",
                    show(&sample["t"]),
                    whole_mib(&sample["front_kib"]),
                    whole_mib(&sample["consumer_kib"])
                )
            })
            .collect();
        out.push(format!(
            "\nSoak RSS (s: front / consumer MiB): {}",
            samples.join(", ")
        ));
    }
}

fn profile(profile: &Value, out: &mut Vec<String>) {
    out.push(format!("### Profile: {}", show(&profile["note"])));
    let front = list(&profile["front"]);
    if front.is_empty() {
        return;
    }
    let top = |lines: &[Value]| lines.iter().take(15).map(show).collect::<Vec<_>>();
    out.extend([
        String::new(),
        "intake-front, top symbols:".into(),
        String::new(),
        "```".into(),
    ]);
    out.extend(top(front));
    out.extend([
        "```".into(),
        String::new(),
        "intake-consumer, top symbols:".into(),
        String::new(),
        "```".into(),
    ]);
    out.extend(top(list(&profile["consumer"])));
    out.push("```".into());
}
