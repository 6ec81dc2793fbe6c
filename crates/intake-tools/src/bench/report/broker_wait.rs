//! Where a closed loop's latency goes: the client's mean latency beside the time its uploads
//! awaited the broker in the front, and how many uploads each message carried (from each
//! round's NAME.wait companion). A closed loop's rate is its requests in flight over their
//! mean latency, so a loop whose uploads spend most of it awaiting the confirm is bound by
//! the broker's commit time rather than by CPU.

use serde::Serialize;
use serde_json::Value;

use super::Runs;
use super::e2e::median_of;
use super::stages::round1;

/// One setup's split, each figure the median over its rounds.
#[derive(Debug, Clone, Serialize)]
pub struct TimeSplit {
    /// The client's mean latency, ms.
    pub latency_mean_ms: Option<f64>,
    /// How long an upload awaited the broker in the front, on average, ms.
    pub awaiting_broker_ms: Option<f64>,
    /// Uploads per broker message.
    pub uploads_per_message: Option<f64>,
}

/// Three decimals: latencies are kept to the microsecond.
fn micros(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Mean ms awaiting the broker and uploads per message of one round's companion.
fn round_split(wait: &Value) -> (Option<f64>, Option<f64>) {
    let uploads = wait["uploads"].as_f64().filter(|uploads| *uploads > 0.0);
    let awaiting = uploads
        .zip(wait["awaiting_broker_seconds"].as_f64())
        .map(|(uploads, seconds)| seconds / uploads * 1000.0);
    // Without group publishing the front counts no messages: each upload is one.
    let per_message = uploads.map(|uploads| match wait["messages"].as_f64() {
        Some(messages) if messages > 0.0 => uploads / messages,
        _ => 1.0,
    });
    (awaiting, per_message)
}

/// The split of the rounds `<prefix>-r<N>`.
pub fn time_split(runs: &Runs, prefix: &str) -> TimeSplit {
    let rounds = runs.rounds(prefix);
    let latency: Vec<Option<f64>> = rounds
        .iter()
        .map(|(_, run)| run["latency_ms"]["mean"].as_f64())
        .collect();
    let (awaiting, per_message): (Vec<_>, Vec<_>) = rounds
        .iter()
        .map(|(name, _)| round_split(runs.get_or_null(&format!("{name}.wait"))))
        .unzip();
    TimeSplit {
        latency_mean_ms: median_of(&latency).map(micros),
        awaiting_broker_ms: median_of(&awaiting).map(micros),
        uploads_per_message: median_of(&per_message).map(round1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_split_is_the_median_over_the_rounds() {
        let run = |mean: f64| json!({"latency_ms": {"mean": mean}});
        let wait = |uploads: f64, seconds: f64, messages: f64| json!({"uploads": uploads, "awaiting_broker_seconds": seconds, "messages": messages});
        let runs = Runs::from_iter(
            [
                ("grouping-json-on-r1", run(5.0)),
                ("grouping-json-on-r1.wait", wait(1000.0, 3.0, 50.0)),
                ("grouping-json-on-r2", run(4.0)),
                ("grouping-json-on-r2.wait", wait(1000.0, 2.5, 40.0)),
                ("grouping-json-on-r3", run(6.0)),
                ("grouping-json-on-r3.wait", wait(1000.0, 3.5, 60.0)),
                ("grouping-json-off-r1", run(7.0)),
                ("grouping-json-off-r1.wait", wait(500.0, 2.0, 0.0)),
            ]
            .map(|(name, run)| (name.to_owned(), run)),
        );
        let on = time_split(&runs, "grouping-json-on");
        assert_eq!(on.latency_mean_ms, Some(5.0));
        assert_eq!(on.awaiting_broker_ms, Some(3.0));
        assert_eq!(on.uploads_per_message, Some(20.0));
        let off = time_split(&runs, "grouping-json-off");
        assert_eq!(off.awaiting_broker_ms, Some(4.0));
        assert_eq!(off.uploads_per_message, Some(1.0));
        // Rounds without a companion (an older run) leave the figures missing.
        let older = Runs::from_iter([("grouping-json-on-r1".to_owned(), run(5.0))]);
        let split = time_split(&older, "grouping-json-on");
        assert_eq!(split.awaiting_broker_ms, None);
        assert_eq!(split.latency_mean_ms, Some(5.0));
    }
}
