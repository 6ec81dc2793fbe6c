//! The admin command: `intake migrate`, `intake project create`, `intake user create`, …

use clap::Parser as _;
use intake::cli::{Cli, run};

fn main() -> std::process::ExitCode {
    intake::telemetry::exit_code(run(Cli::parse()))
}
