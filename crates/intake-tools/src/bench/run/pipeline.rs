//! The release front and consumer of one phase: fresh processes each phase, so each phase's
//! memory is its own (the allocator keeps what an earlier peak took) and runs never overlap;
//! their memory at start, after each run and at the end; and the wait for the consumer to
//! catch up between runs.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::Bench;
use super::setup::{CONSUMER_ADDR, FRONT_METRICS_PORT, FRONT_PORT, QUEUE, quietly};
use crate::bench::sample;

/// The front and consumer of the phase that runs.
#[derive(Debug, Clone)]
pub struct Running {
    pub front: u32,
    pub consumer: u32,
    pub phase: String,
}

/// The sum of a Prometheus counter's series whose labels contain `label` (all of them for
/// an empty `label`), truncated to a whole number.
pub fn metric_sum(text: &str, name: &str, label: &str) -> i64 {
    metric_total(text, name, label) as i64
}

/// The sum of a Prometheus series' values whose labels contain `label`, unrounded.
pub fn metric_total(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let series = fields.next()?;
            let rest = series.strip_prefix(name)?;
            let named = rest.is_empty() || rest.starts_with('{');
            (named && series.contains(label)).then_some(())?;
            fields.last()?.parse::<f64>().ok()
        })
        .sum()
}

/// The messages (ready and unacked) RabbitMQ last sampled in `queue`, from
/// `rabbitmqctl list_queues -q name messages`.
pub fn queue_messages(listing: &str, queue: &str) -> Option<String> {
    listing.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next()? == queue).then(|| fields.next().map(str::to_owned))?
    })
}

/// A metrics page's text, `None` when it does not answer.
async fn scrape(url: &str) -> Option<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let answer = client.get(url).send().await.ok()?.error_for_status().ok()?;
    answer.text().await.ok()
}

fn front_metrics_url() -> String {
    format!("http://127.0.0.1:{FRONT_METRICS_PORT}/metrics")
}

/// The front's metrics page, `None` when it does not answer.
pub async fn front_metrics() -> Option<String> {
    scrape(&front_metrics_url()).await
}

fn consumer_metrics_url() -> String {
    format!("http://{CONSUMER_ADDR}/metrics")
}

impl Bench {
    /// Starts a consumer and then a front for `phase`, with the section's environment.
    pub(super) async fn start_pipeline(&mut self, phase: &str) -> anyhow::Result<()> {
        self.say(format_args!(
            "E[{phase}]: starting intake-front (127.0.0.1:{FRONT_PORT}) and intake-consumer \
             ({CONSUMER_ADDR})"
        ));
        // The consumer first: it declares the queues of every partition, which a front with
        // partitions checks before it becomes ready.
        let consumer = self.start_server("consumer", self.env.consumer.clone(), phase)?;
        self.processes
            .wait_ready(&format!("http://{CONSUMER_ADDR}/readyz"), consumer)
            .await?;
        let front = self.start_server("front", self.env.front.clone(), phase)?;
        self.pipeline = Some(Running {
            front,
            consumer,
            phase: phase.into(),
        });
        self.processes
            .wait_ready(&format!("http://127.0.0.1:{FRONT_PORT}/readyz"), front)
            .await?;
        let idle = sample::Memory::of(front, consumer);
        sample::write_json(&self.path(&format!("phase-{phase}.idle.json")), &idle)?;
        Ok(())
    }

    /// Starts `intake-{who}` with the section's environment (`own`: its part of it), its
    /// output in `{who}-{phase}.server.log`.
    fn start_server(
        &mut self,
        who: &str,
        own: Vec<(String, String)>,
        phase: &str,
    ) -> anyhow::Result<u32> {
        let binary = format!("intake-{who}");
        let mut command = self.binary(&binary);
        command.envs(self.env.both.clone()).envs(own);
        let log = self.path(&format!("{who}-{phase}.server.log"));
        self.processes.start(&binary, command, &log)
    }

    /// Stops the phase's processes (after the drain), keeping their metrics and the RSS the
    /// phase ended with.
    pub(super) async fn stop_pipeline(&mut self) -> anyhow::Result<()> {
        let Some(running) = self.pipeline.take() else {
            return Ok(());
        };
        let phase = &running.phase;
        for (who, url) in [
            ("front", front_metrics_url()),
            ("consumer", consumer_metrics_url()),
        ] {
            let text = scrape(&url).await.unwrap_or_default();
            let path = self.path(&format!("{who}-{phase}.metrics"));
            std::fs::write(&path, text).map_err(|source| crate::ToolError::io(&path, source))?;
        }
        let end = sample::Memory::of(running.front, running.consumer);
        sample::write_json(&self.path(&format!("phase-{phase}.end.json")), &end)?;
        self.processes.stop(running.front).await;
        self.processes.stop(running.consumer).await;
        Ok(())
    }

    /// Resets both processes' peak RSS, so the next reading is the peak of what follows.
    pub(super) fn reset_peaks(&self) {
        if let Some(running) = &self.pipeline {
            for pid in [running.front, running.consumer] {
                let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
            }
        }
    }

    /// Writes both processes' RSS now and peak since the reset into NAME.mem.json.
    pub(super) fn memory_sample(&self, name: &str) -> anyhow::Result<()> {
        if let Some(running) = &self.pipeline {
            let memory = sample::Memory::of(running.front, running.consumer);
            sample::write_json(&self.path(&format!("{name}.mem.json")), &memory)?;
            eprintln!("{}", memory.peaks_line());
        }
        Ok(())
    }

    /// Waits until the consumer has acked as many uploads as the front had confirmed (both
    /// count from process start), so runs don't overlap; RabbitMQ's own queue depth lags by
    /// up to 5 s, so it is only the fallback. Goes on after the drain timeout.
    pub(super) async fn wait_drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(self.s.drain_timeout);
        loop {
            let published = scrape(&front_metrics_url())
                .await
                .map(|text| metric_sum(&text, "intake_publish_total", "result=\"confirmed\""));
            let landed = scrape(&consumer_metrics_url())
                .await
                .map(|text| metric_sum(&text, "intake_uploads_total", ""));
            let left = if let (Some(published), Some(landed)) = (published, landed) {
                if landed >= published {
                    return;
                }
                format!(
                    "{} uploads confirmed by the front, not yet acked by the consumer",
                    published - landed
                )
            } else {
                let mut list = tokio::process::Command::new("rabbitmqctl");
                list.args(["list_queues", "-q", "name", "messages"]);
                let listing = quietly(list, 20).await.map_or_else(String::new, |output| {
                    String::from_utf8_lossy(&output.stdout).into_owned()
                });
                let depth = queue_messages(&listing, QUEUE);
                if depth.as_deref() == Some("0") {
                    return;
                }
                format!("{} messages in {QUEUE}", depth.as_deref().unwrap_or("?"))
            };
            if Instant::now() >= deadline {
                self.say(format_args!(
                    "  still {left} after {} s; going on",
                    self.s.drain_timeout
                ));
                return;
            }
            self.say(format_args!("  draining: {left}"));
            sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_summed_over_its_matching_series() {
        let text = "# TYPE intake_publish_total counter\n\
                    intake_publish_total{result=\"confirmed\"} 10\n\
                    intake_publish_total{result=\"refused\"} 3\n\
                    intake_publish_totally 99\n\
                    intake_uploads_total{outcome=\"stored\"} 7\n\
                    intake_uploads_total{outcome=\"superseded\"} 2.0\n";
        assert_eq!(
            metric_sum(text, "intake_publish_total", "result=\"confirmed\""),
            10
        );
        assert_eq!(metric_sum(text, "intake_uploads_total", ""), 9);
        assert_eq!(metric_sum(text, "intake_missing_total", ""), 0);
        assert_eq!(metric_sum("plain 5\n", "plain", ""), 5);
    }

    #[test]
    fn the_queue_depth_is_read_from_the_listing() {
        let listing = "intake.sessions\t12\nintake-bench.sessions\t0\n";
        assert_eq!(
            queue_messages(listing, "intake-bench.sessions"),
            Some("0".into())
        );
        assert_eq!(queue_messages(listing, "other"), None);
    }
}
