//! What both service binaries do around their work: the runtime, the configuration, logging,
//! the refusal to run against an unmigrated database, and the exit code of a failed run.

use std::future::Future;
use std::process::ExitCode;

use crate::config::Config;
use crate::store::Store;

/// Runs `work` with the loaded configuration on a multi-threaded runtime; an error on the
/// way is printed on stderr and the process exits non-zero.
pub fn main<F>(work: impl FnOnce(Config) -> F) -> ExitCode
where
    F: Future<Output = anyhow::Result<()>>,
{
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(start(work)));
    crate::telemetry::exit_code_reporting_errors(result)
}

async fn start<F>(work: impl FnOnce(Config) -> F) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let config = Config::load()?;
    crate::telemetry::init(&config.log);
    Store::new(&config.database).refuse_unmigrated().await?;
    work(config).await
}
