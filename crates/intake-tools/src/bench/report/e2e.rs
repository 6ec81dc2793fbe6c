//! The end-to-end figures of the report: E and the landed rate per shape (medians of the
//! closed-loop runs), E/B, latency at 50% and 90% of E, the overload run, and memory.

use serde::Serialize;
use serde_json::Value;

use super::Runs;
use super::run_summary;
use super::stages::{at_least, ratio, round1};
use crate::bench::median::median;

/// E/B target of every shape.
pub const E_OVER_B_TARGET: f64 = 0.7;
/// p99/p50 target at 50% of E.
const P99_OVER_P50_TARGET: f64 = 5.0;

/// One shape's end-to-end figures.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Shape {
    pub closed: Value,
    pub E_runs: Vec<Option<f64>>,
    pub landed_runs: Vec<Option<f64>>,
    pub landed_per_second: Option<f64>,
    pub landed_over_B: Option<f64>,
    pub cpu_cores: Value,
    pub E: Option<f64>,
    pub E_over_B: Option<f64>,
    pub E_over_B_target: f64,
    pub E_over_B_met: bool,
    pub open50: Value,
    pub open90: Value,
    pub p99_over_p50_at_50: Option<f64>,
    pub p99_over_p50_target: f64,
    pub p99_over_p50_met: bool,
}

/// Every closed-loop run of `shape`: the extra rounds in their order, then the shape's own
/// phase (`e2e-<shape>-closed-r<N>`, then `e2e-<shape>-closed`).
pub fn closed_runs<'a>(runs: &'a Runs, shape: &str) -> Vec<&'a Value> {
    let own = format!("e2e-{shape}-closed");
    let mut closed: Vec<&Value> = runs.rounds(&own).into_iter().map(|(_, run)| run).collect();
    closed.extend(runs.get(&own));
    closed
}

/// Uploads that landed per second: accepted over the send time plus the time verify
/// waited for them.
pub fn landed(run: &Value) -> Option<f64> {
    let waited = run["verify"]["waited_seconds"].as_f64().unwrap_or(0.0);
    Some(run["accepted"].as_f64()? / (run["elapsed_seconds"].as_f64()? + waited))
}

pub fn median_of(values: &[Option<f64>]) -> Option<f64> {
    let values: Option<Vec<f64>> = values.iter().copied().collect();
    median(&values?)
}

/// The end-to-end figures of `shape`, judged against its bound `b`.
pub fn shape(runs: &Runs, shape: &str, b: Option<f64>) -> Shape {
    let closed = closed_runs(runs, shape);
    let rates: Vec<Option<f64>> = closed
        .iter()
        .map(|run| run["throughput_per_second"].as_f64())
        .collect();
    let landed_rates: Vec<Option<f64>> = closed.iter().map(|run| landed(run)).collect();
    let e = median_of(&rates);
    let landed = median_of(&landed_rates);
    let open50 = &runs.get_or_null(&format!("e2e-{shape}-open50"))["latency_ms"];
    let tail = ratio(open50["p99"].as_f64(), open50["p50"].as_f64());
    let e_over_b = ratio(e, b);
    Shape {
        closed: run_summary(runs, &format!("e2e-{shape}-closed")),
        E_runs: rates.iter().map(|rate| rate.map(round1)).collect(),
        landed_runs: landed_rates.iter().map(|rate| rate.map(round1)).collect(),
        landed_per_second: landed.map(round1),
        landed_over_B: ratio(landed, b),
        cpu_cores: runs.get_or_null(&format!("e2e-{shape}-cpu")).clone(),
        E: e.map(round1),
        E_over_B: e_over_b,
        E_over_B_target: E_OVER_B_TARGET,
        E_over_B_met: at_least(e_over_b, E_OVER_B_TARGET),
        open50: run_summary(runs, &format!("e2e-{shape}-open50")),
        open90: run_summary(runs, &format!("e2e-{shape}-open90")),
        p99_over_p50_at_50: tail,
        p99_over_p50_target: P99_OVER_P50_TARGET,
        // A missing ratio is no evidence of a long tail.
        p99_over_p50_met: tail.is_none_or(|tail| tail <= P99_OVER_P50_TARGET),
    }
}

/// The overload run (JSON, open loop at twice the closed-loop rate): its summary plus what
/// was offered, refused and accepted.
pub fn overload(runs: &Runs) -> Value {
    let e_json = runs.number("e2e-json-closed", "throughput_per_second");
    let run = runs.get_or_null("e2e-json-overload");
    let mut summary = run_summary(runs, "e2e-json-overload");
    if let Value::Object(fields) = &mut summary {
        let extra = serde_json::json!({
            "offered_per_second": e_json.map(|e| round1(e * 2.0)),
            "rejected_503": run["failed_by_status"].get("503").cloned().unwrap_or(0.into()),
            "accepted_over_E": ratio(run["throughput_per_second"].as_f64(), e_json),
            "accepted_per_second_series": runs.get_or_null("e2e-json-overload-series"),
        });
        fields.extend(extra.as_object().cloned().unwrap_or_default());
    }
    summary
}

/// Memory of one phase (fresh processes): idle, peak over its runs, and at its end.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub front_idle_kib: Value,
    pub consumer_idle_kib: Value,
    pub front_peak_kib: Option<f64>,
    pub consumer_peak_kib: Option<f64>,
    pub front_end_kib: Value,
    pub consumer_end_kib: Value,
}

fn highest(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.flatten().reduce(f64::max)
}

/// The phase `phase` whose load runs were `phase_runs`.
pub fn phase(runs: &Runs, phase: &str, phase_runs: &[String]) -> Phase {
    let idle = runs.get_or_null(&format!("phase-{phase}.idle"));
    let end = runs.get_or_null(&format!("phase-{phase}.end"));
    let peak = |field: &str| {
        highest(
            phase_runs
                .iter()
                .map(|run| runs.number(&format!("{run}.mem"), field)),
        )
    };
    Phase {
        front_idle_kib: idle["front_rss_kib"].clone(),
        consumer_idle_kib: idle["consumer_rss_kib"].clone(),
        front_peak_kib: peak("front_peak_kib"),
        consumer_peak_kib: peak("consumer_peak_kib"),
        front_end_kib: end["front_rss_kib"].clone(),
        consumer_end_kib: end["consumer_rss_kib"].clone(),
    }
}

/// The four phases whose memory the report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Phases {
    pub json: Phase,
    pub form: Phase,
    pub multipart_100k: Phase,
    pub json_overload: Phase,
}

/// Memory figures and their targets.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    pub phases: Phases,
    pub idle_connections: Value,
    pub front_target_mib: u64,
    pub consumer_target_mib: u64,
    pub front_met: bool,
    pub front_overload_met: bool,
    pub front_connections_met: bool,
    pub consumer_met: bool,
    pub soak: Value,
}

const FRONT_TARGET_MIB: u64 = 64;
const CONSUMER_TARGET_MIB: u64 = 128;

/// Whether a figure in KiB stays within `mib`; a missing figure does not count against it.
fn within(kib: Option<f64>, mib: u64) -> bool {
    kib.is_none_or(|kib| kib <= (mib * 1024) as f64)
}

/// The memory section from the phases' runs, the idle-connection run and the soak samples.
pub fn memory(runs: &Runs, soak: Value) -> Memory {
    let load_runs =
        |shape: &str| ["closed", "open50", "open90"].map(|kind| format!("e2e-{shape}-{kind}"));
    let phases = Phases {
        json: phase(runs, "json", &load_runs("json")),
        form: phase(runs, "form", &load_runs("form")),
        multipart_100k: phase(runs, "multipart", &load_runs("multipart")),
        json_overload: phase(runs, "overload", &["e2e-json-overload".into()]),
    };
    let front_loaded = highest(
        [&phases.json, &phases.form, &phases.multipart_100k]
            .iter()
            .map(|phase| phase.front_peak_kib),
    );
    let consumer = highest(
        [
            &phases.json,
            &phases.form,
            &phases.multipart_100k,
            &phases.json_overload,
        ]
        .iter()
        .map(|phase| phase.consumer_peak_kib),
    );
    let connections = runs.get_or_null("connections").clone();
    Memory {
        front_met: within(front_loaded, FRONT_TARGET_MIB),
        front_overload_met: within(phases.json_overload.front_peak_kib, FRONT_TARGET_MIB),
        front_connections_met: within(connections["front_holding_kib"].as_f64(), FRONT_TARGET_MIB),
        consumer_met: within(consumer, CONSUMER_TARGET_MIB),
        phases,
        idle_connections: connections,
        front_target_mib: FRONT_TARGET_MIB,
        consumer_target_mib: CONSUMER_TARGET_MIB,
        soak,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn runs(entries: &[(&str, Value)]) -> Runs {
        Runs::from_iter(entries.iter().map(|(k, v)| ((*k).to_string(), v.clone())))
    }

    #[test]
    fn closed_runs_are_the_rounds_in_order_then_the_shapes_own() {
        let runs = runs(&[
            ("e2e-json-closed", json!(1)),
            ("e2e-json-closed-r10", json!(3)),
            ("e2e-json-closed-r2", json!(2)),
            ("e2e-json-closed.mem", json!(9)),
            ("e2e-form-closed", json!(9)),
        ]);
        let closed: Vec<_> = closed_runs(&runs, "json").into_iter().cloned().collect();
        assert_eq!(closed, [json!(2), json!(3), json!(1)]);
    }

    #[test]
    fn e_is_the_median_of_the_closed_runs_and_landed_counts_the_verify_wait() {
        let run = |rate: f64| {
            json!({"throughput_per_second": rate, "accepted": 1000, "elapsed_seconds": 8.0,
                   "verify": {"waited_seconds": 2}})
        };
        let runs = runs(&[
            ("e2e-json-closed", run(300.0)),
            ("e2e-json-closed-r1", run(100.0)),
            ("e2e-json-closed-r2", run(200.0)),
            (
                "e2e-json-open50",
                json!({"latency_ms": {"p50": 2.0, "p99": 12.0}}),
            ),
        ]);
        let figures = shape(&runs, "json", Some(400.0));
        assert_eq!(figures.E, Some(200.0));
        assert_eq!(figures.E_runs, [Some(100.0), Some(200.0), Some(300.0)]);
        assert_eq!(figures.E_over_B, Some(0.5));
        assert!(!figures.E_over_B_met);
        assert_eq!(figures.landed_per_second, Some(100.0));
        assert_eq!(figures.p99_over_p50_at_50, Some(6.0));
        assert!(!figures.p99_over_p50_met);
    }
}
