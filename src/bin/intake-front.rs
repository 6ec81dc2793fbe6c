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

/// mimalloc's setting for how long freed memory stays with the process before it is handed
/// back to the system (10 ms by default).
const PURGE_DELAY: &str = "MIMALLOC_PURGE_DELAY";

fn main() -> std::process::ExitCode {
    purge_at_once();
    intake::service::main(serve)
}

/// Starts the front again with freed memory handed back at once (`MIMALLOC_PURGE_DELAY=0`),
/// unless the environment already says how: with the default delay, the freed buffers of one
/// phase of a large upload still count while the next allocates, and a maximal body's peak
/// varies by tens of MiB from run to run; the cost in CPU was not measurable
/// (docs/RELIABILITY.md). mimalloc reads its options before `main` runs, hence the restart:
/// the same process id, arguments and environment. If it fails the front runs as it is.
fn purge_at_once() {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os(PURGE_DELAY).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    let error = command.args(args).env(PURGE_DELAY, "0").exec();
    eprintln!("intake-front: cannot restart with {PURGE_DELAY}=0 ({error}); running as is");
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
