//! Load runs: `intake loadgen` against one of the run's ports, its report in NAME.json, its
//! stdout in NAME.txt and progress lines in NAME.log, the pipeline's memory after it and, for
//! closed loops, the CPU split while it sent. A failed verification is recorded, not fatal;
//! refusals are figures here, not failures.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::process::Command;

use super::Bench;
use super::process::log_file;
use super::setup::FRONT_PORT;
use crate::bench::sample;

/// A JSON number as jq prints it (no `.0` on whole numbers).
pub fn num(value: &Value) -> String {
    match value.as_f64() {
        Some(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{}", number as i64)
        }
        _ => value.to_string(),
    }
}

/// The whole part of a rate.
fn floor(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "null".into(), |rate| format!("{}", rate.floor() as i64))
}

/// The line a load run's report is summed up in.
pub fn run_line(name: &str, report: &Value) -> String {
    let mut line = format!(
        "  {name}: {} accepted/s, sent {}, accepted {}, failed {}, p50 {} ms, p99 {} ms",
        floor(&report["throughput_per_second"]),
        num(&report["sent"]),
        num(&report["accepted"]),
        report["failed_by_status"],
        num(&report["latency_ms"]["p50"]),
        num(&report["latency_ms"]["p99"]),
    );
    let verify = &report["verify"];
    if !verify.is_null() && verify != &Value::Bool(false) {
        line += &format!(
            ", verify {}/{}",
            num(&verify["verified"]),
            num(&verify["expected"])
        );
    }
    line
}

/// The line a closed-loop run with its CPU split is summed up in.
pub fn closed_line(report: &Value) -> String {
    let verify = &report["verify"];
    format!(
        "  closed: {} accepted/s, p50 {} ms, p99 {} ms, verify {}/{} in {} s",
        floor(&report["throughput_per_second"]),
        num(&report["latency_ms"]["p50"]),
        num(&report["latency_ms"]["p99"]),
        num(&verify["verified"]),
        num(&verify["expected"]),
        num(&verify["waited_seconds"]),
    )
}

/// Owned arguments from borrowed ones.
pub fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| (*part).to_owned()).collect()
}

impl Bench {
    /// `intake loadgen` against 127.0.0.1:`port` as the benchmark's user.
    pub(super) fn loadgen_command(&self, port: u16) -> Command {
        let mut command = self.binary("intake");
        command.stdin(Stdio::null()).args([
            "loadgen",
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--project",
            &self.account.project,
            "-u",
            &self.account.user,
            &format!("--secret={}", self.account.secret),
        ]);
        command
    }

    /// A verified closed loop of `concurrency` requests in flight for the run's length.
    pub(super) fn closed_args(&self, concurrency: u64) -> Vec<String> {
        let s = &self.s;
        vec![
            "--concurrency".into(),
            concurrency.to_string(),
            "--duration".into(),
            s.seconds.to_string(),
            "--verify".into(),
            "--verify-timeout".into(),
            s.verify_timeout.to_string(),
        ]
    }

    /// A verified open loop at `rate` for the run's length.
    pub(super) fn open_args(&self, rate: u64) -> Vec<String> {
        let s = &self.s;
        vec![
            "--rate".into(),
            rate.to_string(),
            "--duration".into(),
            s.seconds.to_string(),
            "--verify".into(),
            "--verify-timeout".into(),
            s.verify_timeout.to_string(),
        ]
    }

    /// The command of load run `name`: report in NAME.json, stdout NAME.txt, stderr NAME.log.
    fn named_run(&self, name: &str, port: u16, extra: &[String]) -> anyhow::Result<Command> {
        let _ = std::fs::remove_file(self.path(&format!("{name}.json")));
        let mut command = self.loadgen_command(port);
        command
            .arg("--json")
            .arg(self.path(&format!("{name}.json")))
            .args(["--max-error-rate", "1"])
            .args(extra)
            .stdout(log_file(&self.path(&format!("{name}.txt")))?)
            .stderr(log_file(&self.path(&format!("{name}.log")))?);
        Ok(command)
    }

    /// The report of run `name`, failing when loadgen left none.
    fn run_report(&self, name: &str) -> anyhow::Result<Value> {
        let path = self.path(&format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.trim().is_empty() {
            bail!(
                "loadgen {name} failed (see {})",
                self.path(&format!("{name}.log")).display()
            );
        }
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
    }

    /// One load run in the foreground, then the pipeline's memory (when it runs).
    pub(super) async fn loadgen(
        &mut self,
        name: &str,
        port: u16,
        extra: &[String],
    ) -> anyhow::Result<()> {
        if self.pipeline.is_some() {
            self.reset_peaks();
        }
        let status = self
            .named_run(name, port, extra)?
            .status()
            .await
            .context("cannot run intake loadgen")?;
        let report = self.run_report(name)?;
        if !status.success() {
            self.say(format_args!(
                "  loadgen {name}: verification FAILED (see {})",
                self.path(&format!("{name}.txt")).display()
            ));
        }
        if self.pipeline.is_some() {
            self.memory_sample(name)?;
        }
        eprintln!("{}", run_line(name, &report));
        Ok(())
    }

    /// A closed loop of `concurrency` requests in flight for the run's seconds with --verify
    /// against the front, into NAME.json, and the CPU split over its send phase into
    /// NAME.cpu.json.
    pub(super) async fn closed_with_cpu(
        &mut self,
        name: &str,
        concurrency: u64,
        shape: &[&str],
    ) -> anyhow::Result<()> {
        let Some(pipeline) = self.pipeline.clone() else {
            bail!("no front and consumer are running for {name}");
        };
        self.reset_peaks();
        let mut extra = self.closed_args(concurrency);
        extra.extend(args(shape));
        let command = self.named_run(name, FRONT_PORT, &extra)?;
        let loadgen = self.processes.adopt(
            "intake loadgen",
            command,
            &self.path(&format!("{name}.log")),
        )?;
        // Over the send phase but a second short of its end, while loadgen certainly runs.
        let seconds = Duration::from_secs(if self.s.seconds > 2 {
            self.s.seconds - 1
        } else {
            1
        });
        let who = sample::Pipeline {
            loadgen,
            front: pipeline.front,
            consumer: pipeline.consumer,
        };
        let split =
            tokio::task::spawn_blocking(move || sample::CpuSplit::measure(who, seconds)).await?;
        sample::write_json(&self.path(&format!("{name}.cpu.json")), &split)?;
        eprintln!("  CPU (cores): {split}");
        let status = self.processes.wait(loadgen).await;
        if !status.is_some_and(|status| status.success()) {
            self.say(format_args!(
                "  loadgen {name}: verification FAILED (see {})",
                self.path(&format!("{name}.txt")).display()
            ));
        }
        let report = self.run_report(name)?;
        self.memory_sample(name)?;
        eprintln!("{}", closed_line(&report));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_is_summed_up_as_before() {
        let report = json!({
            "throughput_per_second": 1234.56, "sent": 100, "accepted": 98,
            "failed_by_status": {"503": 2}, "latency_ms": {"p50": 1.5, "p99": 12.0},
            "verify": {"verified": 98, "expected": 98, "waited_seconds": 0.4},
        });
        assert_eq!(
            run_line("e2e-json-open50", &report),
            "  e2e-json-open50: 1234 accepted/s, sent 100, accepted 98, failed {\"503\":2}, \
             p50 1.5 ms, p99 12 ms, verify 98/98"
        );
        assert_eq!(
            closed_line(&report),
            "  closed: 1234 accepted/s, p50 1.5 ms, p99 12 ms, verify 98/98 in 0.4 s"
        );
        let unverified = json!({"throughput_per_second": 10.0, "verify": null});
        assert!(!run_line("http-bare-json", &unverified).contains("verify"));
    }
}
