//! `summary.md`: the report for people, rendered from `results.json`.

use serde_json::Value;

mod e2e;
mod memory;
mod sections;

use super::format::{figure, percent, show, verdict};
use e2e::end_to_end;
use memory::{memory, profile};

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

pub(super) fn list(value: &Value) -> &[Value] {
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
    sections::scale(x, &mut out);
    sections::grouping(x, &mut out);
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
