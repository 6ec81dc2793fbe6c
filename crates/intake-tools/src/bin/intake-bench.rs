//! Stage measurements for `make bench` (scripts/bench.sh drives it): limits of this machine
//! beside the project's figures for the same work. Prints JSON on stdout.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use intake::config::Config;
use intake::front::Front;
use intake_tools::bench;

/// Measures one stage.
#[derive(Debug, Parser)]
#[command(name = "intake-bench", about)]
struct Cli {
    #[command(subcommand)]
    stage: Stage,
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
    intake::telemetry::exit_code_reporting_errors(run(Cli::parse()).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Only the stages that reach the services load the configuration.
    match cli.stage {
        Stage::BareHttp { listen } => bench::http::serve_bare(listen).await?,
        Stage::Median { out, runs } => fold_runs(&out, &runs)?,
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
