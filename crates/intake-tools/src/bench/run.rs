//! `intake-bench run`: the whole of `make bench` (scripts/bench.sh builds, then hands over
//! here). It starts and stops the bare servers, the release front and consumer and the local
//! cluster, runs loadgen through the phase plan, samples memory and CPU, and writes the raw
//! outputs that [`super::report`] turns into results.json and summary.md.

mod broker_wait;
mod connections;
mod e2e;
mod extra;
mod grouping;
pub mod knobs;
mod loadgen;
mod micro;
mod pipeline;
pub mod plan;
mod process;
mod record;
mod scale;
mod setup;
mod stages;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;

pub use knobs::{Knobs, Settings};
use process::Processes;

/// The flags of `intake-bench run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub knobs: Knobs,
    /// Unix time the run started (scripts/bench.sh passes its own, from before the build).
    #[arg(long)]
    pub started_at: Option<i64>,
    /// Only rewrite results.json and summary.md from the raw outputs already there.
    #[arg(long)]
    pub report_only: bool,
}

/// Environment added to the front's and the consumer's by the section that runs them.
#[derive(Debug, Clone, Default)]
struct SectionEnv {
    both: Vec<(String, String)>,
    front: Vec<(String, String)>,
    consumer: Vec<(String, String)>,
}

/// The benchmark's project and user.
#[derive(Debug, Clone, Default)]
struct Account {
    project: String,
    user: String,
    secret: String,
}

/// A run in progress.
struct Bench {
    s: Settings,
    out: PathBuf,
    /// Where intake, intake-front, intake-consumer and this binary are.
    bin: PathBuf,
    started: Instant,
    started_at: i64,
    processes: Processes,
    account: Account,
    pipeline: Option<pipeline::Running>,
    env: SectionEnv,
    /// The local cluster was started by this run (and is stopped by it).
    cluster_started: bool,
    /// E of JSON, which the overload run and the soak offer multiples of.
    e_json: f64,
    busy_before: u64,
    perf_note: String,
    commit: String,
    uncommitted: Vec<String>,
}

impl Bench {
    fn new(args: &RunArgs) -> anyhow::Result<Self> {
        let s = args.knobs.settings();
        let exe = std::env::current_exe().context("cannot find intake-bench's own path")?;
        let bin = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let now = chrono::Utc::now().timestamp();
        let started_at = args.started_at.unwrap_or(now);
        let already = Duration::from_secs(u64::try_from(now - started_at).unwrap_or(0));
        Ok(Self {
            out: s.out.clone(),
            s,
            bin,
            started: Instant::now()
                .checked_sub(already)
                .unwrap_or_else(Instant::now),
            started_at,
            processes: Processes::default(),
            account: Account::default(),
            pipeline: None,
            env: SectionEnv::default(),
            cluster_started: false,
            e_json: 0.0,
            busy_before: 0,
            perf_note: "not run (BENCH_PERF=0)".into(),
            commit: String::new(),
            uncommitted: Vec::new(),
        })
    }

    /// A progress line on stderr, with the seconds since the run started.
    fn say(&self, message: impl std::fmt::Display) {
        eprintln!("[bench {:4}s] {message}", self.started.elapsed().as_secs());
    }

    /// A file of the output directory.
    fn path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// Every step in order.
    async fn steps(&mut self) -> anyhow::Result<()> {
        self.prepare().await?;
        self.micro().await?;
        self.setup().await?;
        self.busy_before().await?;
        self.http().await?;
        self.broker().await?;
        self.database().await?;
        self.end_to_end().await?;
        if self.s.scale {
            self.scale().await?;
        }
        if self.s.grouping {
            self.grouping().await?;
        }
        self.soak_and_profile().await?;
        if self.pipeline.is_some() {
            self.stop_pipeline().await?;
        }
        self.write_run_record()?;
        self.report()?;
        self.say(format_args!(
            "done in {} s",
            self.started.elapsed().as_secs()
        ));
        Ok(())
    }

    /// Writes results.json and summary.md from the raw outputs, and prints the summary.
    fn report(&self) -> anyhow::Result<()> {
        self.say(format_args!(
            "writing {} and {}",
            self.path("results.json").display(),
            self.path("summary.md").display()
        ));
        let machine = super::machine::describe(setup::ADMIN_DB_URL);
        print!("{}", super::report::write(&self.out, machine)?);
        Ok(())
    }
}

/// Why the run stopped early when it was told to.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

/// Resolves on SIGINT or SIGTERM.
async fn interrupted() -> Interrupted {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
    Interrupted
}

/// Runs the benchmark; whatever happens, stops what it started before returning.
pub async fn main(args: RunArgs) -> ExitCode {
    let mut bench = match Bench::new(&args) {
        Ok(bench) => bench,
        Err(error) => {
            eprintln!("[bench    0s] ERROR: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = if args.report_only {
        bench.report()
    } else {
        let outcome = tokio::select! {
            outcome = bench.steps() => outcome,
            interrupted = interrupted() => Err(interrupted.into()),
        };
        if let Err(error) = &outcome {
            if !error.is::<Interrupted>() {
                bench.say(format_args!("ERROR: {error:#}"));
            }
        }
        bench.cleanup().await;
        outcome
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = if error.is::<Interrupted>() { 130 } else { 1 };
            if args.report_only {
                bench.say(format_args!("ERROR: {error:#}"));
            }
            bench.say(format_args!(
                "failed (exit {code}); logs in {}/",
                bench.out.display()
            ));
            ExitCode::from(code)
        }
    }
}
