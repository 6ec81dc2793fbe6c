//! The optional steps, on a fresh pipeline: a soak at half the JSON rate with the RSS
//! sampled every 10 s, and a CPU profile of front and consumer under load with perf.

use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;
use tokio::time::{Instant, sleep};

use super::Bench;
use super::knobs::Perf;
use super::loadgen::args;
use super::plan::{self, JSON};
use super::process::log_file;
use super::setup::{FRONT_PORT, quietly};
use crate::bench::sample::{status_kib, write_json};

/// Lines of each perf report kept, and their width.
const PERF_LINES: usize = 25;
const PERF_WIDTH: usize = 160;

/// One RSS sample of the soak.
#[derive(Debug, Clone, Copy, Serialize)]
struct SoakSample {
    t: u64,
    front_kib: Option<u64>,
    consumer_kib: Option<u64>,
}

/// The top of a `perf report --stdio`: no comments or blank lines, 25 lines cut at 160.
pub fn perf_top(report: &str) -> String {
    report
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .take(PERF_LINES)
        .map(|line| line.chars().take(PERF_WIDTH).collect::<String>() + "\n")
        .collect()
}

fn perf(args: &[&str]) -> Command {
    let mut perf = Command::new("perf");
    perf.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    perf
}

impl Bench {
    /// Whether perf can record here (`auto`), or as the knob says.
    async fn perf_usable(&mut self) -> bool {
        match self.s.perf {
            Perf::On => true,
            Perf::Off => false,
            Perf::Auto => {
                let probe = self.path("probe.data");
                let probe = probe.to_string_lossy();
                let usable = perf(&[
                    "record",
                    "-q",
                    "-e",
                    "cpu-clock",
                    "-o",
                    &probe,
                    "--",
                    "true",
                ])
                .status()
                .await
                .is_ok_and(|status| status.success());
                let _ = std::fs::remove_file(self.path("probe.data"));
                if !usable {
                    self.perf_note = "skipped: perf is not usable here".into();
                }
                usable
            }
        }
    }

    pub(super) async fn soak_and_profile(&mut self) -> anyhow::Result<()> {
        write_json(&self.path("soak.json"), &Vec::<SoakSample>::new())?;
        std::fs::write(self.path("perf-front.txt"), "")?;
        std::fs::write(self.path("perf-consumer.txt"), "")?;
        let profile = self.perf_usable().await;
        let soak = self.s.soak_seconds;
        if soak > 0 || profile {
            self.start_pipeline("extra").await?;
        }
        if soak > 0 {
            self.soak(soak).await?;
        }
        if profile {
            self.profile().await?;
        }
        Ok(())
    }

    async fn soak(&mut self, seconds: u64) -> anyhow::Result<()> {
        let Some(running) = self.pipeline.clone() else {
            return Ok(());
        };
        let rate = plan::percent_of(self.e_json, 50);
        self.say(format_args!(
            "soak: {seconds} s at {rate}/s (JSON), RSS every 10 s"
        ));
        let mut command = self.loadgen_command(FRONT_PORT);
        command
            .arg("--json")
            .arg(self.path("soak-loadgen.json"))
            .args(args(&[
                "--rate",
                &rate.to_string(),
                "--duration",
                &seconds.to_string(),
            ]))
            .args(JSON.args)
            .stdout(log_file(&self.path("soak-loadgen.txt"))?)
            .stderr(log_file(&self.path("soak-loadgen.log"))?);
        let log = self.path("soak-loadgen.log");
        let loadgen = self.processes.adopt("intake loadgen", command, &log)?;
        let start = Instant::now();
        let mut samples = Vec::new();
        let mut lines = String::new();
        while self.processes.is_running(loadgen) && start.elapsed().as_secs() <= seconds + 30 {
            let sample = SoakSample {
                t: start.elapsed().as_secs(),
                front_kib: status_kib(running.front, "VmRSS"),
                consumer_kib: status_kib(running.consumer, "VmRSS"),
            };
            let line = serde_json::to_string(&sample)?;
            eprintln!("  {line}");
            lines += &(line + "\n");
            std::fs::write(self.path("soak.ndjson"), &lines)?;
            samples.push(sample);
            sleep(Duration::from_secs(10)).await;
        }
        self.processes.stop(loadgen).await;
        write_json(&self.path("soak.json"), &samples)?;
        self.wait_drain().await;
        Ok(())
    }

    async fn profile(&mut self) -> anyhow::Result<()> {
        let Some(running) = self.pipeline.clone() else {
            return Ok(());
        };
        let (conc, secs) = (self.s.concurrency, self.s.perf_seconds);
        self.say(format_args!(
            "profile: perf record -e cpu-clock on front and consumer, {secs} s of JSON closed loop"
        ));
        let mut command = self.loadgen_command(FRONT_PORT);
        let out = log_file(&self.path("perf-loadgen.txt"))?;
        command
            .args(args(&["--concurrency", &conc.to_string()]))
            .args(args(&["--duration", &(secs + 2).to_string()]))
            .args(JSON.args)
            .arg("--quiet")
            .stdout(out.try_clone()?)
            .stderr(out);
        let log = self.path("perf-loadgen.txt");
        let loadgen = self.processes.adopt("intake loadgen", command, &log)?;
        sleep(Duration::from_secs(1)).await;
        let record = |who: &str, pid: u32| {
            let data = self.path(&format!("perf-{who}.data"));
            let (pid, secs) = (pid.to_string(), secs.to_string());
            let data = data.to_string_lossy().into_owned();
            let mut record = perf(&[
                "record",
                "-q",
                "-e",
                "cpu-clock",
                "-F",
                "499",
                "-p",
                &pid,
                "-o",
                &data,
                "--",
                "sleep",
                &secs,
            ]);
            async move { record.status().await }
        };
        let _ = tokio::join!(
            record("front", running.front),
            record("consumer", running.consumer)
        );
        self.processes.wait(loadgen).await;
        for who in ["front", "consumer"] {
            let data = self.path(&format!("perf-{who}.data"));
            let mut report = Command::new("perf");
            report.arg("report").arg("-i").arg(&data).args([
                "--stdio",
                "--no-children",
                "--sort",
                "dso,sym",
            ]);
            let text = quietly(report, 120)
                .await
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                .unwrap_or_default();
            std::fs::write(self.path(&format!("perf-{who}.txt")), perf_top(&text))?;
        }
        self.perf_note =
            format!("perf record -e cpu-clock -F 499, {secs} s, JSON closed loop {conc}");
        self.wait_drain().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_perf_top_drops_comments_and_blank_lines() {
        let long = "x".repeat(200);
        let report = format!("# Samples: 1K\n#\n\n  12.00%  intake-front  [.] parse\n{long}\n");
        let top = perf_top(&report);
        assert_eq!(top.lines().count(), 2);
        assert!(top.starts_with("  12.00%  intake-front  [.] parse\n"));
        assert_eq!(top.lines().nth(1).map(str::len), Some(160));
        let many: String = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(perf_top(&many).lines().count(), 25);
    }
}
