//! The admin command: `intake migrate`, `intake project create`, `intake user create`, …

use clap::Parser as _;
use intake_tools::cli::{Cli, run};

/// The allocator the service binaries use (see intake-front), so measurements and load match.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    intake::telemetry::exit_code_reporting_errors(run(Cli::parse()))
}
