//! The memory and profile parts of the summary.

use serde_json::Value;

use super::list;
use crate::bench::report::format::{mib, number, show, verdict};

pub fn memory(x: &Value, out: &mut Vec<String>) {
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

pub fn profile(profile: &Value, out: &mut Vec<String>) {
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
