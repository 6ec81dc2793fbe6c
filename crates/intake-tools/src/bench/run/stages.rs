//! The steps before the end-to-end runs: the output directory, the criterion
//! micro-benchmarks, how busy the machine is, and each stage's limit beside the project's
//! figure for the same work (H: HTTP, Q: broker, D: database).

use std::process::Stdio;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::process::Command;

use super::Bench;
use super::loadgen::{args, num};
use super::plan::{SHAPES, STAGE_SHAPES, StageShape};
use super::process::log_file;
use super::setup::{BARE_PORT, CONSUMER_PORT, DISCARD_PORT, FRONT_METRICS_PORT, FRONT_PORT};
use super::{micro, process};
use crate::bench::sample;

/// Files of an earlier run that this one replaces.
const OUTPUTS: [&str; 6] = ["json", "log", "txt", "data", "run", "metrics"];

/// The whole part of a figure's `per_second`.
fn per_second(figures: &Value, key: &str) -> String {
    figures[key]["per_second"]
        .as_f64()
        .map_or_else(|| "null".into(), |rate| format!("{}", rate.floor() as i64))
}

/// The first line `program args` prints, when it succeeds.
async fn first_words(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Bench {
    /// The output directory emptied of an earlier run's outputs, the ports checked free,
    /// and what is measured: the commit and the files that differ from it.
    pub(super) async fn prepare(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("cannot create {}", self.out.display()))?;
        for entry in std::fs::read_dir(&self.out)?.flatten() {
            let path = entry.path();
            let old = path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| OUTPUTS.contains(&ext));
            if old && path.is_file() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        let ports = [
            BARE_PORT,
            DISCARD_PORT,
            FRONT_PORT,
            FRONT_METRICS_PORT,
            CONSUMER_PORT,
        ];
        for port in ports {
            if !process::port_free(port).await {
                bail!("port {port} is in use: stop what listens there first");
            }
        }
        self.commit = first_words("git", &["rev-parse", "--short", "HEAD"])
            .await
            .map(|text| text.trim().to_owned())
            .filter(|commit| !commit.is_empty())
            .unwrap_or_else(|| "unknown".into());
        let status = first_words("git", &["status", "--porcelain", "--untracked-files=no"]).await;
        self.uncommitted = status
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1).map(str::to_owned))
            .collect();
        Ok(())
    }

    /// The criterion micro-benchmarks (short), one line per benchmark into micro.txt.
    pub(super) async fn micro(&mut self) -> anyhow::Result<()> {
        let txt = self.path("micro.txt");
        if !self.s.micro {
            std::fs::write(&txt, "").with_context(|| format!("cannot write {}", txt.display()))?;
            return Ok(());
        }
        self.say("criterion micro-benchmarks (cargo bench --bench codecs, short)");
        let raw = self.path("micro.raw");
        let log = self.path("micro.log");
        let status = Command::new("cargo")
            .args(["bench", "--bench", "codecs", "--"])
            .args(["--warm-up-time", "1", "--measurement-time", "3"])
            .stdin(Stdio::null())
            .stdout(log_file(&raw)?)
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .status()
            .await
            .context("cannot run cargo bench")?;
        if !status.success() {
            bail!("cargo bench failed (see {})", log.display());
        }
        let lines = micro::lines(&std::fs::read_to_string(&raw)?);
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        std::fs::write(&txt, text).with_context(|| format!("cannot write {}", txt.display()))?;
        for line in lines {
            eprintln!("  {line}");
        }
        Ok(())
    }

    /// Everything here shares the machine's CPUs: says so when something else is busy.
    pub(super) async fn busy_before(&mut self) -> anyhow::Result<()> {
        let seconds = std::time::Duration::from_secs(3);
        self.busy_before =
            tokio::task::spawn_blocking(move || sample::machine_busy_percent(seconds)).await?;
        self.say(format_args!(
            "machine busy before the stages: {}% (of all CPUs)",
            self.busy_before
        ));
        if self.busy_before >= 15 {
            self.say("WARNING: something else is using the CPUs; the figures will be low");
        }
        Ok(())
    }

    /// H for every shape (the bound B of each end-to-end shape is built from its own stage
    /// limits): the bare handler, then the real front with a discarding publisher.
    pub(super) async fn http(&mut self) -> anyhow::Result<()> {
        let (conc, secs) = (self.s.concurrency, self.s.seconds);
        for (server, port, what) in [
            ("bare-http", BARE_PORT, "bare axum handler"),
            (
                "front-discard",
                DISCARD_PORT,
                "the real front with a discarding publisher",
            ),
        ] {
            self.say(format_args!(
                "H: {what}, closed loop {conc}, {secs} s per shape"
            ));
            let mut command = self.binary("intake-bench");
            command.args([server, "--listen", &format!("127.0.0.1:{port}")]);
            let log = self.path(&format!("{server}.server.log"));
            let pid = self.processes.start(server, command, &log)?;
            if port == BARE_PORT {
                self.processes.wait_port(port, pid).await?;
            } else {
                let url = format!("http://127.0.0.1:{port}/healthz");
                self.processes.wait_ready(&url, pid).await?;
            }
            let name = if port == BARE_PORT {
                "bare"
            } else {
                "front-discard"
            };
            for shape in SHAPES {
                let mut extra = args(&["--concurrency", &conc.to_string()]);
                extra.extend(args(&["--duration", &secs.to_string()]));
                extra.extend(args(shape.args));
                self.loadgen(&format!("http-{name}-{}", shape.name), port, &extra)
                    .await?;
            }
            self.processes.stop(pid).await;
        }
        Ok(())
    }

    /// Q for both message shapes: short and noisy (±15% run to run here), so several runs
    /// and each figure's median.
    pub(super) async fn broker(&mut self) -> anyhow::Result<()> {
        for shape in STAGE_SHAPES {
            let messages = self.s.broker_messages / shape.broker_divisor;
            self.say(format_args!(
                "Q[{}]: broker, {messages} messages, window {}, {} runs (raw publish, raw \
                 consume, front publisher, consumer path)",
                shape.name, self.s.broker_window, self.s.stage_runs
            ));
            let flags = [
                "--messages".to_owned(),
                messages.to_string(),
                "--window".to_owned(),
                self.s.broker_window.to_string(),
            ];
            self.stage_runs("broker", shape, &flags, |run| {
                format!(
                    "  raw publish {}/s, raw consume {}/s, front publisher {}/s, consumer \
                     decode+ack {}/s ({} B messages)",
                    per_second(run, "raw_publish"),
                    per_second(run, "raw_consume"),
                    per_second(run, "front_publish"),
                    per_second(run, "consumer_decode_ack"),
                    num(&run["message_bytes"])
                )
            })
            .await?;
        }
        Ok(())
    }

    /// D for both message shapes, as Q.
    pub(super) async fn database(&mut self) -> anyhow::Result<()> {
        let s = &self.s;
        let (batch, workers, runs) = (s.db_batch, s.db_workers, s.stage_runs);
        for shape in STAGE_SHAPES {
            let rows = self.s.db_rows / shape.database_divisor;
            self.say(format_args!(
                "D[{}]: database, {rows} rows, batches of {batch}, {workers} connections, \
                 {runs} runs (raw upsert, consumer write path)",
                shape.name
            ));
            let flags = [
                "--rows".to_owned(),
                rows.to_string(),
                "--batch".to_owned(),
                batch.to_string(),
                "--workers".to_owned(),
                workers.to_string(),
            ];
            self.stage_runs("database", shape, &flags, |run| {
                format!(
                    "  raw upsert {} rows/s, write path {} rows/s",
                    per_second(run, "raw_upsert"),
                    per_second(run, "write_path")
                )
            })
            .await?;
        }
        Ok(())
    }

    /// The stage's runs into STAGE-SHAPE-N.run, folded into STAGE-SHAPE.json.
    async fn stage_runs(
        &mut self,
        stage: &str,
        shape: StageShape,
        flags: &[String],
        line: impl Fn(&Value) -> String,
    ) -> anyhow::Result<()> {
        let log = self.path(&format!("{stage}.log"));
        let mut runs = Vec::new();
        for run in 1..=self.s.stage_runs {
            let path = self.path(&format!("{stage}-{}-{run}.run", shape.name));
            // One more try after a pause: RabbitMQ can refuse to declare a quorum queue
            // just after one of the same name was deleted, while its segment writer restarts
            // ("cluster_not_formed").
            let mut tries = 0;
            loop {
                tries += 1;
                let status = self
                    .binary("intake-bench")
                    .arg(stage)
                    .args(flags)
                    .args(shape.args)
                    .stdin(Stdio::null())
                    .stdout(log_file(&path)?)
                    .stderr(log_file(&log)?)
                    .status()
                    .await
                    .with_context(|| format!("cannot run the {stage} stage"))?;
                if status.success() {
                    break;
                }
                if tries >= 2 {
                    bail!("{stage} stage failed twice (see {})", log.display());
                }
                self.say(format_args!(
                    "  {stage} run {run} failed (see {}); once more in 5 s",
                    log.display()
                ));
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
            let figures: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            eprintln!("{}", line(&figures));
            runs.push(figures);
        }
        let folded = crate::bench::median::fold_runs(&runs)
            .with_context(|| format!("cannot fold the runs into {stage}-{}.json", shape.name))?;
        let out = self.path(&format!("{stage}-{}.json", shape.name));
        std::fs::write(&out, serde_json::to_string(&folded)? + "\n")
            .with_context(|| format!("cannot write {}", out.display()))
    }
}
