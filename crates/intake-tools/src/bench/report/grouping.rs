//! The grouping section: several uploads published as one broker message
//! (`front.group_publish`) on vs off: E and E/B per shape, the broker's CPU per upload, JSON
//! accept latency at fractions of E, and the targets grouping is held to.

use serde::Serialize;
use serde_json::Value;

use super::broker_wait::{TimeSplit, time_split};
use super::e2e::median_of;
use super::rounds::{Rounds, fully_verified, rounds};
use super::stages::{at_least, ratio};
use super::{ByShape, Runs};

/// JSON E with grouping on, over the bound B (which assumes a message per upload).
const E_OVER_B_TARGET: f64 = 1.2;
/// p99 accept latency at 50% of E with grouping on, ms.
const P99_AT_50_TARGET_MS: f64 = 10.0;

/// One arm (grouping on or off) of one shape.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Arm {
    #[serde(flatten)]
    pub rounds: Rounds,
    pub E_over_B: Option<f64>,
    /// Where the closed loop's latency went.
    pub time: TimeSplit,
}

/// Both arms of one shape.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Arms {
    pub on: Arm,
    pub off: Arm,
    pub E_on_over_off: Option<f64>,
}

/// JSON accept latency (ms) at one fraction of E, the same offered load for both arms: each
/// percentile the median over the rounds.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub percent: u64,
    pub offered_per_second: Option<f64>,
    pub rounds: usize,
    pub on: Value,
    pub off: Value,
}

/// The targets, judged on what was measured (missing figures do not meet them).
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Targets {
    pub json_E_over_B_on: Option<f64>,
    pub json_E_over_B_target: f64,
    pub json_E_over_B_met: bool,
    pub p99_at_50_on_ms: Option<f64>,
    pub p99_at_50_target_ms: f64,
    pub p99_at_50_met: bool,
    pub p50_at_10_on_ms: Option<f64>,
    pub p50_at_10_off_ms: Option<f64>,
    pub p50_at_10_met: bool,
    pub all_verified: bool,
}

/// The section as results.json keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    /// Whether the front knew `front.group_publish`; when not, both arms ran without it.
    pub supported: Value,
    pub runs: Value,
    pub shapes: ByShape<Arms>,
    /// JSON's closed loop at `wide_concurrency`, twice E's: what the machine takes when the
    /// loop does not wait on the broker's confirms.
    pub wide: Arms,
    pub wide_concurrency: Value,
    pub latency: Vec<Level>,
    pub targets: Targets,
}

/// Both arms of the closed loops named `name(arm)` and their rounds.
fn arms(runs: &Runs, name: impl Fn(&str) -> String, b: Option<f64>) -> Arms {
    let arm = |which: &str| {
        let prefix = name(which);
        let rounds = rounds(runs, &prefix);
        Arm {
            E_over_B: ratio(rounds.E, b),
            rounds,
            time: time_split(runs, &prefix),
        }
    };
    let (on, off) = (arm("on"), arm("off"));
    Arms {
        E_on_over_off: ratio(on.rounds.E, off.rounds.E),
        on,
        off,
    }
}

/// The open-loop runs of one arm at one level: one per round (`…-open10-r2`), or the single
/// unnumbered run of older results.
fn open_loops<'a>(runs: &'a Runs, arm: &str, percent: u64) -> Vec<&'a Value> {
    let name = format!("grouping-json-{arm}-open{percent}");
    runs.iter()
        .filter(|(run, _)| {
            run.strip_prefix(name.as_str()).is_some_and(|rest| {
                rest.is_empty()
                    || rest
                        .strip_prefix("-r")
                        .is_some_and(|round| round.parse::<u64>().is_ok())
            })
        })
        .map(|(_, run)| run)
        .collect()
}

/// Each latency percentile of `loops`, the median over them (null without runs).
fn median_latency(loops: &[&Value]) -> Value {
    let Some(first) = loops.first().and_then(|run| run["latency_ms"].as_object()) else {
        return Value::Null;
    };
    let medians = first.keys().map(|field| {
        let values: Vec<Option<f64>> = loops
            .iter()
            .map(|run| run["latency_ms"][field].as_f64())
            .collect();
        (
            field.clone(),
            median_of(&values).map_or(Value::Null, Value::from),
        )
    });
    Value::Object(medians.collect())
}

/// The section, when the run had it (`meta` is its `grouping.json`, `bounds` each shape's B).
pub fn grouping(runs: &Runs, meta: &Value, bounds: &ByShape<Option<f64>>) -> Option<Grouping> {
    if meta.is_null() {
        return None;
    }
    let shapes = ByShape {
        json: arms(runs, |arm| format!("grouping-json-{arm}"), bounds.json),
        form: arms(runs, |arm| format!("grouping-form-{arm}"), bounds.form),
        multipart: arms(
            runs,
            |arm| format!("grouping-multipart-{arm}"),
            bounds.multipart,
        ),
    };
    let wide = arms(runs, |arm| format!("grouping-json-{arm}-wide"), bounds.json);
    let of = meta["open_loop_of"].as_f64();
    let levels: Vec<u64> = meta["open_loop_levels_percent"]
        .as_array()
        .map(|levels| levels.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let latency: Vec<Level> = levels
        .iter()
        .map(|&percent| {
            let (on, off) = (
                open_loops(runs, "on", percent),
                open_loops(runs, "off", percent),
            );
            Level {
                percent,
                offered_per_second: of.map(|e| (e * percent as f64 / 100.0).round()),
                rounds: on.len().min(off.len()),
                on: median_latency(&on),
                off: median_latency(&off),
            }
        })
        .collect();
    let latency_at = |percent: u64| latency.iter().find(|level| level.percent == percent);
    let (p50_on, p50_off) = latency_at(10).map_or((None, None), |level| {
        (level.on["p50"].as_f64(), level.off["p50"].as_f64())
    });
    let p99_on = latency_at(50).and_then(|level| level.on["p99"].as_f64());
    let every_run: Vec<&Value> = runs
        .iter()
        .filter(|(name, _)| name.starts_with("grouping-") && !name.contains('.'))
        .map(|(_, run)| run)
        .collect();
    let json_e_over_b = shapes.json.on.E_over_B;
    let targets = Targets {
        json_E_over_B_on: json_e_over_b,
        json_E_over_B_target: E_OVER_B_TARGET,
        json_E_over_B_met: at_least(json_e_over_b, E_OVER_B_TARGET),
        p99_at_50_on_ms: p99_on,
        p99_at_50_target_ms: P99_AT_50_TARGET_MS,
        p99_at_50_met: p99_on.is_some_and(|p99| p99 <= P99_AT_50_TARGET_MS),
        p50_at_10_on_ms: p50_on,
        p50_at_10_off_ms: p50_off,
        p50_at_10_met: p50_on.zip(p50_off).is_some_and(|(on, off)| on <= off),
        all_verified: !every_run.is_empty() && every_run.into_iter().all(fully_verified),
    };
    Some(Grouping {
        supported: meta["supported"].clone(),
        runs: meta["runs"].clone(),
        shapes,
        wide,
        wide_concurrency: meta["wide_concurrency"].clone(),
        latency,
        targets,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn closed(rate: f64) -> Value {
        json!({"throughput_per_second": rate, "verify": {"expected": 10, "verified": 10}})
    }

    fn open(p50: f64, p99: f64) -> Value {
        json!({"latency_ms": {"p50": p50, "p99": p99, "p999": p99},
               "verify": {"expected": 10, "verified": 10}})
    }

    #[test]
    fn grouping_is_judged_against_b_and_against_itself_off() {
        let runs = Runs::from_iter(
            [
                ("grouping-json-on-r1", closed(1300.0)),
                ("grouping-json-off-r1", closed(900.0)),
                ("grouping-json-on-wide-r1", closed(1500.0)),
                ("grouping-json-on-open10-r1", open(1.5, 3.0)),
                ("grouping-json-on-open10-r2", open(1.4, 3.0)),
                ("grouping-json-on-open10-r3", open(9.0, 3.0)),
                ("grouping-json-off-open10", open(1.6, 3.0)),
                ("grouping-json-on-open50", open(2.0, 9.0)),
                ("grouping-json-off-open50", open(2.0, 8.0)),
            ]
            .map(|(name, run)| (name.to_owned(), run)),
        );
        let meta = json!({"supported": true, "runs": 1, "open_loop_levels_percent": [10, 50],
                          "open_loop_of": 900.0});
        let bounds = ByShape {
            json: Some(1000.0),
            form: None,
            multipart: None,
        };
        let section = grouping(&runs, &meta, &bounds).expect("a section");
        assert_eq!(section.shapes.json.on.E_over_B, Some(1.3));
        assert_eq!(section.shapes.json.E_on_over_off, Some(1.444));
        // The wide loop is an arm of its own, not a round of E.
        assert_eq!(section.wide.on.E_over_B, Some(1.5));
        assert_eq!(section.shapes.json.on.rounds.E, Some(1300.0));
        assert_eq!(section.latency[0].offered_per_second, Some(90.0));
        // The median of the three rounds, not the slow one.
        assert_eq!(section.latency[0].on["p50"], json!(1.5));
        assert_eq!(section.latency[0].rounds, 1);
        let targets = &section.targets;
        assert!(targets.json_E_over_B_met && targets.p99_at_50_met && targets.p50_at_10_met);
        assert!(targets.all_verified);

        let slower = Runs::from_iter(
            runs.iter()
                .map(|(name, run)| (name.clone(), run.clone()))
                .chain([
                    ("grouping-json-on-open10-r2".to_owned(), open(1.7, 3.0)),
                    (
                        "grouping-form-on-r1".to_owned(),
                        json!({"verify": {"expected": 3, "verified": 2}}),
                    ),
                ]),
        );
        let targets = grouping(&slower, &meta, &bounds)
            .expect("a section")
            .targets;
        assert!(!targets.p50_at_10_met);
        assert!(!targets.all_verified);
        assert!(grouping(&runs, &Value::Null, &bounds).is_none());
    }
}
