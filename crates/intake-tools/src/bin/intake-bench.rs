//! `make bench` (scripts/bench.sh builds, then runs `intake-bench run`): the whole benchmark,
//! and the stage measurements it runs as subcommands of its own (these print JSON on stdout).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use intake::config::Config;
use intake::front::Front;
use intake_tools::bench;

/// Runs the benchmark, or measures one stage.
#[derive(Debug, Parser)]
#[command(name = "intake-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once, at start")]
enum Command {
    /// The whole benchmark: stages, end to end, scale, grouping, memory, soak, profile, and
    /// the report. Every knob also reads its BENCH_* variable (see scripts/bench.sh).
    Run(bench::run::RunArgs),
    #[command(flatten)]
    Stage(Stage),
}

#[derive(Debug, Subcommand)]
enum Stage {
    /// Serve the bare handler (reads the body, answers 202) until stopped.
    BareHttp {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Serve the real front with a publisher that drops every upload, until stopped.
    FrontDiscard {
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Raw publish/consume limits beside the front's publisher and the consumer's path.
    Broker {
        #[arg(long, default_value_t = 50_000)]
        messages: u64,
        #[arg(long, default_value_t = 1024)]
        window: usize,
        #[command(flatten)]
        shape: bench::Shape,
    },
    /// The list route's query on millions of sessions.
    List {
        #[arg(long, default_value_t = 2_000_000)]
        rows: u64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 20)]
        repeat: u32,
    },
    /// Fold several runs of the broker or database stage into one: each rate's median, with
    /// its runs. Reads the runs' JSON files, writes the folded JSON to `--out`.
    Median {
        #[arg(long)]
        out: PathBuf,
        #[arg(required = true)]
        runs: Vec<PathBuf>,
    },
    /// Write results.json and summary.md from the raw outputs of a run in `--dir`, and print
    /// the summary.
    Report {
        #[arg(long)]
        dir: PathBuf,
        /// Where to ask PostgreSQL's version.
        #[arg(long, default_value = "postgres://intake:intake@127.0.0.1:5432/intake")]
        admin_database_url: String,
    },
    /// Write the front's and the consumer's RSS and peak RSS (KiB) as JSON to `--out`.
    Memory {
        #[arg(long)]
        front: u32,
        #[arg(long)]
        consumer: u32,
        #[arg(long)]
        out: PathBuf,
        /// Also say the peaks on stderr.
        #[arg(long)]
        say_peak: bool,
    },
    /// Write the cores each part of the pipeline uses over the next `--seconds` as JSON to
    /// `--out` (RabbitMQ and PostgreSQL found by process name).
    CpuSplit {
        #[arg(long)]
        loadgen: u32,
        #[arg(long)]
        front: u32,
        #[arg(long)]
        consumer: u32,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the busy share of the whole machine over `--seconds`, in percent.
    MachineBusy {
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// Raw set-based upsert beside the consumer's batch write, same rows.
    Database {
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        #[arg(long, default_value_t = 500)]
        batch: usize,
        #[arg(long, default_value_t = 2)]
        workers: usize,
        #[command(flatten)]
        shape: bench::Shape,
    },
}

/// The allocator the service binaries use (see intake-front), so measurements and load match.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        // It reports its own failure, after stopping what it started.
        Command::Run(args) => bench::run::main(args).await,
        Command::Stage(stage) => intake::telemetry::exit_code_reporting_errors(run(stage).await),
    }
}

async fn run(stage: Stage) -> anyhow::Result<()> {
    // Only the stages that reach the services load the configuration.
    match stage {
        Stage::BareHttp { listen } => bench::http::serve_bare(listen).await?,
        Stage::Median { out, runs } => fold_runs(&out, &runs)?,
        Stage::Memory {
            front,
            consumer,
            out,
            say_peak,
        } => {
            let memory = bench::sample::Memory::of(front, consumer);
            bench::sample::write_json(&out, &memory)?;
            if say_peak {
                eprintln!("{}", memory.peaks_line());
            }
        }
        Stage::CpuSplit {
            loadgen,
            front,
            consumer,
            seconds,
            out,
        } => {
            let pipeline = bench::sample::Pipeline {
                loadgen,
                front,
                consumer,
            };
            let seconds = std::time::Duration::try_from_secs_f64(seconds)
                .context("--seconds must be a positive number")?;
            let split = bench::sample::CpuSplit::measure(pipeline, seconds);
            bench::sample::write_json(&out, &split)?;
            eprintln!("  CPU (cores): {split}");
        }
        Stage::MachineBusy { seconds } => {
            let seconds = std::time::Duration::try_from_secs_f64(seconds)
                .context("--seconds must be a positive number")?;
            println!("{}", bench::sample::machine_busy_percent(seconds));
        }
        Stage::Report {
            dir,
            admin_database_url,
        } => {
            let machine = bench::machine::describe(&admin_database_url);
            print!("{}", bench::report::write(&dir, machine)?);
        }
        Stage::FrontDiscard { listen } => {
            let mut config = Config::load()?;
            config.front.listen = listen;
            let front = Front::build_discarding(config).await?;
            front.run(intake::shutdown::signal()).await?;
        }
        Stage::Broker {
            messages,
            window,
            shape,
        } => {
            let config = Config::load()?;
            let figures = bench::broker::measure(&config, messages, window, shape)
                .await
                .map_err(|error| anyhow::anyhow!(error))
                .context("broker measurement")?;
            println!("{}", serde_json::to_string(&figures)?);
        }
        Stage::List {
            rows,
            limit,
            repeat,
        } => {
            let store = intake::store::Store::new(&Config::load()?.database);
            let figures = tokio::task::spawn_blocking(move || {
                bench::list::measure(&store, rows, limit, repeat)
            })
            .await?
            .map_err(|error| anyhow::anyhow!(error))
            .context("list measurement")?;
            println!("{}", serde_json::to_string(&figures)?);
        }
        Stage::Database {
            rows,
            batch,
            workers,
            shape,
        } => {
            let store = intake::store::Store::new(&Config::load()?.database);
            let figures = tokio::task::spawn_blocking(move || {
                bench::database::measure(&store, rows, batch, workers, shape)
            })
            .await?
            .map_err(|error| anyhow::anyhow!(error))
            .context("database measurement")?;
            println!("{}", serde_json::to_string(&figures)?);
        }
    }
    Ok(())
}

fn fold_runs(out: &Path, runs: &[PathBuf]) -> anyhow::Result<()> {
    let runs = runs
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
        })
        .collect::<anyhow::Result<Vec<serde_json::Value>>>()?;
    let folded =
        bench::median::fold_runs(&runs).context("the first run is not a JSON object of figures")?;
    std::fs::write(out, serde_json::to_string(&folded)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))
}
