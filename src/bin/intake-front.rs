//! The HTTP front: checks uploads and publishes them, confirmed, to RabbitMQ.

use anyhow::Context as _;
use intake::config::Config;
use intake::front::Front;

/// glibc malloc took about a sixth of the front's and the consumer's CPU under load, and kept
/// freed peaks as RSS; mimalloc is faster for these many small, short-lived allocations and
/// gives memory back (docs/PERFORMANCE.md). Set here, not in the library, so tests, fuzz
/// targets and benches keep the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    intake::service::main(serve)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (listen, metrics) = (config.front.listen, config.front.metrics_listen);
    let tls = config.front.tls_cert.is_some();
    let front = Front::build(config)
        .await
        .with_context(|| format!("cannot listen on {listen} and {metrics}"))?;
    tracing::info!(
        address = %front.local_addr()?,
        metrics = %front.metrics_addr()?,
        tls,
        "intake-front listening"
    );
    front.run(intake::shutdown::signal()).await?;
    tracing::info!("intake-front stopped");
    Ok(())
}
