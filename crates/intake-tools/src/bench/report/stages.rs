//! The stage figures of the report: each stage's limit beside the project's figure (F/H,
//! W/D, the broker's rates) and the bound B that the end-to-end rate is judged against.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Runs, rounded, run_summary};

/// One decimal, as every rate in the report is kept.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `a / b` to three decimals; `None` when either is missing or `b` is not positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    let (a, b) = (a?, b?);
    (b > 0.0).then(|| (a / b * 1000.0).round() / 1000.0)
}

/// Whether `ratio` reaches `target`; a missing ratio does not.
pub fn at_least(ratio: Option<f64>, target: f64) -> bool {
    ratio.is_some_and(|ratio| ratio >= target)
}

/// The rate of stages in series: `1 / (1/a + 1/b + …)`.
pub fn in_series(rates: &[f64]) -> f64 {
    1.0 / rates.iter().map(|rate| 1.0 / rate).sum::<f64>()
}

/// H: bare axum beside the front with a discarding publisher, for one request shape.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Http {
    pub H_bare: Option<f64>,
    pub F_front_discard: Option<f64>,
    pub ratio: Option<f64>,
    pub target: f64,
    pub met: bool,
    pub bare: Value,
    pub front_discard: Value,
    /// Unrounded, for the bounds.
    #[serde(skip)]
    pub h: Option<f64>,
    #[serde(skip)]
    pub f: Option<f64>,
}

/// The HTTP stage of `shape` from the loadgen runs `http-bare-<shape>` and
/// `http-front-discard-<shape>`.
pub fn http(runs: &Runs, shape: &str) -> Http {
    let bare = format!("http-bare-{shape}");
    let discard = format!("http-front-discard-{shape}");
    let h = runs.number(&bare, "throughput_per_second");
    let f = runs.number(&discard, "throughput_per_second");
    let ratio = ratio(f, h);
    Http {
        H_bare: h.map(round1),
        F_front_discard: f.map(round1),
        ratio,
        target: 0.5,
        met: at_least(ratio, 0.5),
        bare: run_summary(runs, &bare),
        front_discard: run_summary(runs, &discard),
        h,
        f,
    }
}

/// Q: raw publish and consume beside the front's publisher and the consumer's path.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Broker {
    pub message_bytes: Value,
    pub runs: Map<String, Value>,
    pub P_raw_publish: Option<f64>,
    pub C_raw_consume: Option<f64>,
    pub Q: Option<f64>,
    pub front_publish: Option<f64>,
    pub front_publish_over_P: Option<f64>,
    pub consumer_decode_ack: Option<f64>,
    pub consumer_decode_ack_over_C: Option<f64>,
    pub Q_project: Option<f64>,
    pub Q_project_over_Q: Option<f64>,
    /// Unrounded, for the bounds.
    #[serde(skip)]
    pub q: Option<f64>,
    #[serde(skip)]
    pub q_project: Option<f64>,
}

fn rate(figures: &Value, name: &str) -> Option<f64> {
    figures[name]["per_second"].as_f64()
}

/// Each rate's runs, rounded: the spread behind each median.
fn rate_runs(figures: &Value) -> Map<String, Value> {
    figures
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, figure)| {
            let runs = figure.get("runs")?.as_array()?;
            Some((name.clone(), rounded(runs)))
        })
        .collect()
}

/// The broker stage from its folded figures (see [`super::super::median::fold_runs`]).
pub fn broker(figures: &Value) -> Broker {
    let p = rate(figures, "raw_publish");
    let c = rate(figures, "raw_consume");
    let publish = rate(figures, "front_publish");
    let decode = rate(figures, "consumer_decode_ack");
    let q = p.zip(c).map(|(p, c)| in_series(&[p, c]));
    let q_project = publish.zip(decode).map(|(p, c)| in_series(&[p, c]));
    Broker {
        message_bytes: figures["message_bytes"].clone(),
        runs: rate_runs(figures),
        P_raw_publish: p.map(round1),
        C_raw_consume: c.map(round1),
        Q: q.map(round1),
        front_publish: publish.map(round1),
        front_publish_over_P: ratio(publish, p),
        consumer_decode_ack: decode.map(round1),
        consumer_decode_ack_over_C: ratio(decode, c),
        Q_project: q_project.map(round1),
        Q_project_over_Q: ratio(q_project, q),
        q,
        q_project,
    }
}

/// D: a bare set-based upsert beside the consumer's batch write, same rows.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Database {
    pub batch: Value,
    pub workers: Value,
    pub shape: Value,
    pub runs: Map<String, Value>,
    pub D_raw_upsert: Option<f64>,
    pub W_write_path: Option<f64>,
    pub ratio: Option<f64>,
    pub target: f64,
    pub met: bool,
}

/// The database stage from its folded figures.
pub fn database(figures: &Value) -> Database {
    let d = rate(figures, "raw_upsert");
    let w = rate(figures, "write_path");
    let ratio = ratio(w, d);
    Database {
        batch: figures["batch"].clone(),
        workers: figures["workers"].clone(),
        shape: figures["shape"].clone(),
        runs: rate_runs(figures),
        D_raw_upsert: d.map(round1),
        W_write_path: w.map(round1),
        ratio,
        target: 0.8,
        met: at_least(ratio, 0.8),
    }
}

/// B: what the stages allow end to end, and the same built from the project's figures.
#[derive(Debug, Clone, Serialize)]
#[allow(
    non_snake_case,
    reason = "named as in results.json and docs/PERFORMANCE.md"
)]
pub struct Bound {
    pub B: Option<f64>,
    pub B_project: Option<f64>,
    pub B_project_over_B: Option<f64>,
}

/// The bound of one shape. The database rates enter rounded, as the report always did.
pub fn bound(http: &Http, broker: &Broker, database: &Database) -> Bound {
    let series = |rates: [Option<f64>; 3]| -> Option<f64> {
        let rates: Option<Vec<f64>> = rates.into_iter().collect();
        Some(round1(in_series(&rates?)))
    };
    let b = series([http.h, broker.q, database.D_raw_upsert]);
    let b_project = series([http.f, broker.q_project, database.W_write_path]);
    Bound {
        B: b,
        B_project: b_project,
        B_project_over_B: ratio(b_project, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ratios_have_three_decimals_and_need_a_positive_divisor() {
        assert_eq!(ratio(Some(2.0), Some(3.0)), Some(0.667));
        assert_eq!(ratio(Some(2.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(3.0)), None);
        assert!(at_least(Some(0.5), 0.5));
        assert!(!at_least(None, 0.5));
    }

    #[test]
    fn stages_in_series_add_their_times() {
        assert!((in_series(&[100.0, 100.0]) - 50.0).abs() < 1e-9);
        assert!((in_series(&[200.0, 200.0, 100.0]) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn the_broker_stage_is_publish_and_consume_in_series() {
        let figures = json!({
            "message_bytes": 900,
            "raw_publish": {"per_second": 300.0, "runs": [300.04, 290.0]},
            "raw_consume": {"per_second": 600.0, "runs": [600.0]},
            "front_publish": {"per_second": 150.0, "runs": [150.0]},
            "consumer_decode_ack": {"per_second": 300.0, "runs": [300.0]},
        });
        let broker = broker(&figures);
        assert_eq!(broker.Q, Some(200.0));
        assert_eq!(broker.Q_project, Some(100.0));
        assert_eq!(broker.Q_project_over_Q, Some(0.5));
        assert_eq!(broker.front_publish_over_P, Some(0.5));
        assert_eq!(broker.runs["raw_publish"], json!([300.0, 290.0]));
    }
}
