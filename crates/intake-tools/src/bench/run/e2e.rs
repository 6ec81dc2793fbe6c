//! E: the real front and consumer end to end. First the front's memory holding idle
//! connections, then the extra closed-loop rounds in rotating order, then each shape's own
//! phase (closed loop with its CPU split, open loops at 50% and 90% of E), then overload.

use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::Bench;
use super::connections;
use super::loadgen::args;
use super::plan::{self, JSON, Shape};
use super::setup::FRONT_PORT;
use crate::bench::sample::{status_kib, write_json};

/// Accepted per second, one figure a second, from loadgen's progress lines (`rate N/s`).
pub fn rate_series(log: &str) -> Vec<u64> {
    log.match_indices("rate ")
        .filter_map(|(at, _)| {
            let rest = &log[at + 5..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            rest[digits..]
                .starts_with("/s")
                .then(|| rest[..digits].parse().ok())?
        })
        .collect()
}

impl Bench {
    /// The throughputs of the closed-loop runs of `shape` so far.
    fn closed_rates(&self, shape: &str) -> Vec<f64> {
        let prefix = format!("e2e-{shape}-closed");
        self.rates(|name| {
            name == prefix
                || name
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_prefix("-r"))
                    .is_some_and(|round| round.bytes().all(|b| b.is_ascii_digit()))
        })
    }

    /// The throughputs of the reports NAME.json whose NAME is `wanted`.
    pub(super) fn rates(&self, wanted: impl Fn(&str) -> bool) -> Vec<f64> {
        let Ok(listing) = std::fs::read_dir(&self.out) else {
            return Vec::new();
        };
        listing
            .flatten()
            .filter_map(|entry| {
                let file = entry.file_name().to_str()?.to_owned();
                wanted(file.strip_suffix(".json")?).then_some(entry.path())
            })
            .filter_map(|path| {
                let report: Value =
                    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
                report["throughput_per_second"].as_f64()
            })
            .collect()
    }

    pub(super) async fn end_to_end(&mut self) -> anyhow::Result<()> {
        self.idle_connections().await?;
        let (conc, secs, e_runs) = (self.s.concurrency, self.s.seconds, self.s.e_runs);
        // Each run has fresh processes; E is the median of all runs.
        for (round, shape) in plan::extra_rounds(e_runs) {
            self.start_pipeline(&format!("{}-r{round}", shape.name))
                .await?;
            self.say(format_args!(
                "E[{}]: closed loop {conc}, {secs} s, --verify (round {round} of {e_runs})",
                shape.name
            ));
            let mut extra = self.closed_args(conc);
            extra.extend(args(shape.args));
            let name = format!("e2e-{}-closed-r{round}", shape.name);
            self.loadgen(&name, FRONT_PORT, &extra).await?;
            self.wait_drain().await;
            self.stop_pipeline().await?;
        }
        for shape in plan::SHAPES {
            self.start_pipeline(shape.name).await?;
            self.shape_phase(shape).await?;
            if shape == JSON {
                self.e_json = plan::middle_rate(&self.closed_rates("json")).unwrap_or(0.0);
            }
            self.stop_pipeline().await?;
        }
        self.overload().await
    }

    /// A shape's own phase: closed loop with the CPU split, then open loops at 50% and 90%
    /// of E (the median of its closed-loop runs).
    async fn shape_phase(&mut self, shape: Shape) -> anyhow::Result<()> {
        let name = shape.name;
        let (conc, secs) = (self.s.concurrency, self.s.seconds);
        self.say(format_args!(
            "E[{name}]: closed loop {conc}, {secs} s, --verify"
        ));
        let closed = format!("e2e-{name}-closed");
        self.closed_with_cpu(&closed, conc, shape.args).await?;
        let from = self.path(&format!("{closed}.cpu.json"));
        let to = self.path(&format!("e2e-{name}-cpu.json"));
        std::fs::rename(&from, &to).with_context(|| format!("cannot rename {}", from.display()))?;
        self.wait_drain().await;
        let e = plan::middle_rate(&self.closed_rates(name)).unwrap_or(0.0);
        for percent in [50, 90] {
            let rate = plan::percent_of(e, percent);
            self.say(format_args!(
                "E[{name}]: open loop {percent}% of {e:.0}/s = {rate}/s, {secs} s, --verify"
            ));
            let mut extra = self.open_args(rate);
            extra.extend(args(shape.args));
            self.loadgen(&format!("e2e-{name}-open{percent}"), FRONT_PORT, &extra)
                .await?;
            self.wait_drain().await;
        }
        Ok(())
    }

    /// JSON offered at twice E, with the accepted rate each second beside it.
    async fn overload(&mut self) -> anyhow::Result<()> {
        self.start_pipeline("overload").await?;
        let rate = plan::percent_of(self.e_json, 200);
        let secs = self.s.seconds;
        self.say(format_args!(
            "E[overload]: JSON, open loop 2x = {rate}/s, --max-in-flight 4096, {secs} s, --verify"
        ));
        let mut extra = self.open_args(rate);
        extra.extend(args(&["--max-in-flight", "4096"]));
        extra.extend(args(JSON.args));
        self.loadgen("e2e-json-overload", FRONT_PORT, &extra)
            .await?;
        let log = std::fs::read_to_string(self.path("e2e-json-overload.log")).unwrap_or_default();
        write_json(
            &self.path("e2e-json-overload-series.json"),
            &rate_series(&log),
        )?;
        self.wait_drain().await;
        self.stop_pipeline().await
    }

    /// A fresh front holding many idle keep-alive connections (a phase of its own, so the
    /// figure is the connections' cost, not what the allocator kept from earlier peaks).
    async fn idle_connections(&mut self) -> anyhow::Result<()> {
        self.start_pipeline("connections").await?;
        let count = self.s.connections;
        self.say(format_args!(
            "memory: the front holding {count} idle keep-alive connections"
        ));
        let front = self.pipeline.as_ref().map_or(0, |running| running.front);
        let before = status_kib(front, "VmRSS");
        let (ready, said) = mpsc::channel();
        let holder =
            tokio::task::spawn_blocking(move || connections::hold(FRONT_PORT, count, ready));
        // Ready, or the holder gave up; then a second for the front to settle.
        let _ =
            tokio::task::spawn_blocking(move || said.recv_timeout(Duration::from_secs(60))).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let holding = status_kib(front, "VmRSS");
        let mut held = holder.await?;
        held.front_before_kib = before;
        held.front_holding_kib = holding;
        write_json(&self.path("connections.json"), &held)?;
        let mib =
            |kib: Option<u64>| kib.map_or_else(|| "null".into(), |kib| (kib / 1024).to_string());
        eprintln!(
            "  front {} MiB idle, {} MiB holding {} connections ({} answered, {} still \
             answered after the hold)",
            mib(held.front_before_kib),
            mib(held.front_holding_kib),
            held.opened,
            held.answered_first,
            held.answered_after_hold
        );
        self.stop_pipeline().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overload_series_is_every_rate_of_the_progress_lines() {
        let log =
            "[  1s] sent 900, rate 850/s, p99 3 ms\n[  2s] rate 1200/s\nrate /s\nrate 12 /s\n";
        assert_eq!(rate_series(log), [850, 1200]);
        assert!(rate_series("").is_empty());
    }
}
