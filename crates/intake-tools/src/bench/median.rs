//! Repeated runs of one stage folded into one figure each: the broker and database stages are
//! short and noisy (±15% run to run on a 2-core machine), so `make bench` runs each several
//! times and keeps every figure's median, with each run's value beside it.

use serde_json::{Map, Value};

/// The middle value, or the mean of the two middle ones; `None` without values.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let upper = *sorted.get(middle)?;
    if sorted.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = *sorted.get(middle.checked_sub(1)?)?;
    Some(f64::midpoint(lower, upper))
}

/// The first run, with each figure that has a `per_second` (a rate) replaced by
/// `{"per_second": <median of the runs>, "runs": [<each run's>]}`; anything else (the shape,
/// the message size) is the first run's. `None` without runs or when the first run is not
/// a JSON object.
pub fn fold_runs(runs: &[Value]) -> Option<Value> {
    let first = runs.first()?.as_object()?;
    let folded: Map<String, Value> = first
        .iter()
        .map(|(key, value)| {
            if value.get("per_second").is_none() {
                return (key.clone(), value.clone());
            }
            let rates: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.get(key)?.get("per_second")?.as_f64())
                .collect();
            let figure = serde_json::json!({
                "per_second": median(&rates),
                "runs": rates,
            });
            (key.clone(), figure)
        })
        .collect();
    Some(Value::Object(folded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn median_is_the_middle_or_the_mean_of_the_two_middle_values() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[9.0, 1.0, 5.0]), Some(5.0));
        assert_eq!(median(&[9.0, 1.0, 5.0, 3.0]), Some(4.0));
    }

    #[test]
    fn rates_become_medians_with_their_runs_and_the_rest_is_the_first_runs() {
        let runs = [
            json!({"message_bytes": 900, "raw_publish": {"count": 10, "per_second": 300.0},
                   "shape": {"points": 10}}),
            json!({"message_bytes": 900, "raw_publish": {"count": 10, "per_second": 100.0},
                   "shape": {"points": 10}}),
            json!({"message_bytes": 900, "raw_publish": {"count": 10, "per_second": 200.0},
                   "shape": {"points": 10}}),
        ];
        assert_eq!(
            fold_runs(&runs),
            Some(json!({
                "message_bytes": 900,
                "raw_publish": {"per_second": 200.0, "runs": [300.0, 100.0, 200.0]},
                "shape": {"points": 10},
            }))
        );
    }

    #[test]
    fn no_runs_fold_to_nothing() {
        assert_eq!(fold_runs(&[]), None);
        assert_eq!(fold_runs(&[json!([1, 2])]), None);
    }
}
