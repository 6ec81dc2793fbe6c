//! `make bench` (scripts/bench.sh builds, then runs `intake-bench run`): the whole benchmark,
//! and the stage measurements it runs as subcommands of its own (these print JSON on stdout).

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Write results.json and summary.md from the raw outputs of a run in `--dir`, and print
    /// the summary.
    Report {
        #[arg(long)]
        dir: PathBuf,
        /// Where to ask PostgreSQL's version.
        #[arg(long, default_value = "postgres://intake:intake@127.0.0.1:5432/intake")]
        admin_database_url: String,
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
