//! The consumer: writes queued uploads to PostgreSQL in batches, acking after commit.

use intake::config::Config;
use tokio_util::sync::CancellationToken;

/// The same allocator as intake-front, for the same reasons (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    intake::service::main(consume)
}

async fn consume(config: Config) -> anyhow::Result<()> {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        intake::shutdown::signal().await;
        stop.cancel();
    });
    tracing::info!(queue = %config.broker.queue, "intake-consumer starting");
    intake::consumer::run(config, cancel).await?;
    tracing::info!("intake-consumer stopped");
    Ok(())
}
