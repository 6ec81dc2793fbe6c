//! Where a closed loop's time goes in the front: its counters read before and after the
//! loop, the difference kept beside the loop's report in NAME.wait.json — how long the
//! uploads awaited the broker (from the hand-over to the publisher to the confirm of the
//! message that carried them) and in how many messages they went. A closed loop's rate is
//! its requests in flight over their mean latency, so this says how much of that latency
//! the broker's confirm takes.

use serde::Serialize;

use super::Bench;
use super::pipeline::{front_metrics, metric_total};
use crate::bench::sample::write_json;

/// The front's counters that a loop moves (totals since the front started).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FrontCounters {
    /// Uploads the broker confirmed.
    pub uploads: f64,
    /// Seconds those uploads awaited the broker, in all.
    pub awaiting_broker_seconds: f64,
    /// Messages counted by group publishing (none with it off: one upload per message).
    pub messages: f64,
}

impl FrontCounters {
    /// The counters on a metrics page.
    pub fn read(text: &str) -> Self {
        Self {
            uploads: metric_total(text, "intake_publish_confirm_seconds_count", ""),
            awaiting_broker_seconds: metric_total(text, "intake_publish_confirm_seconds_sum", ""),
            messages: metric_total(text, "intake_publish_group_size_count", ""),
        }
    }

    /// What moved between `before` and `self`.
    pub fn since(self, before: Self) -> Self {
        Self {
            uploads: self.uploads - before.uploads,
            awaiting_broker_seconds: self.awaiting_broker_seconds - before.awaiting_broker_seconds,
            messages: self.messages - before.messages,
        }
    }
}

impl Bench {
    /// A closed loop with its CPU split, and what it moved of the front's counters.
    pub(super) async fn closed_with_wait(
        &mut self,
        name: &str,
        concurrency: u64,
        shape: &[&str],
    ) -> anyhow::Result<()> {
        let before = front_metrics().await.map(|text| FrontCounters::read(&text));
        self.closed_with_cpu(name, concurrency, shape).await?;
        let after = front_metrics().await.map(|text| FrontCounters::read(&text));
        // A front that did not answer leaves no record: the report shows the figure missing.
        if let (Some(before), Some(after)) = (before, after) {
            write_json(
                &self.path(&format!("{name}.wait.json")),
                &after.since(before),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_keeps_what_it_moved_of_the_fronts_counters() {
        let page = |uploads: u32, seconds: f64, messages: u32| {
            format!(
                "intake_publish_confirm_seconds{{quantile=\"0.5\"}} 0.003\n\
                 intake_publish_confirm_seconds_sum {seconds}\n\
                 intake_publish_confirm_seconds_count {uploads}\n\
                 intake_publish_group_size_count {messages}\n"
            )
        };
        let before = FrontCounters::read(&page(10, 0.5, 2));
        let after = FrontCounters::read(&page(110, 3.5, 7));
        let moved = after.since(before);
        assert_eq!(moved.uploads, 100.0);
        assert!((moved.awaiting_broker_seconds - 3.0).abs() < 1e-9);
        assert_eq!(moved.messages, 5.0);
        assert_eq!(FrontCounters::read("").messages, 0.0);
    }
}
