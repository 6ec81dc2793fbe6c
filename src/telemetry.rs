//! Tracing set-up, in one place for every binary (and a quiet variant for tests), the
//! Prometheus exporter every process serves on `/metrics`, and how a binary reports a
//! failed run.

use axum::http::header;
use axum::response::IntoResponse;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber: `RUST_LOG` wins over the configured filter.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stdout: colour only when it is a terminal (never into a file or a pipe,
    // where escape codes are noise) and NO_COLOR is unset.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    // A second init (tests) is harmless: the first subscriber stays.
    let _already = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Prints a failed command's error chain on one line (no backtrace: this is for operators)
/// and turns the result into the process exit code.
pub fn exit_code_reporting_errors(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // Library errors often repeat their source in their own message: print each
            // cause only when it adds something.
            let mut line = String::new();
            for cause in error.chain().map(ToString::to_string) {
                if !line.contains(&cause) {
                    line = if line.is_empty() {
                        cause
                    } else {
                        format!("{line}: {cause}")
                    };
                }
            }
            eprintln!("error: {line}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// For tests: warnings only unless `RUST_LOG` says otherwise, captured per test.
pub fn init_for_tests() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _already = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The process-wide Prometheus recorder, installed on first use (tests build several apps in
/// one process; they share it).
pub fn metrics_handle() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        const SECONDS: [f64; 14] = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        const SIZES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_size".into()), &SIZES)
            });
        let recorder = match builder {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        // Another recorder already installed (only possible in tests): ours stays empty.
        let _ = metrics::set_global_recorder(recorder);
        spawn_upkeep(handle.clone());
        handle
    })
}

/// Histogram samples are kept raw until upkeep folds them into their buckets, so without
/// it a process that is not scraped grows by every sample it records (about 1 GB an hour
/// at 4,000 uploads a second). `install_recorder` would run this; `build_recorder` leaves it to us.
fn spawn_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the metrics upkeep thread");
    }
}

/// Renders every metric in the Prometheus text format.
pub fn render_metrics() -> String {
    metrics_handle().render()
}

/// `GET /metrics`, on the front and on the consumer: the Prometheus text format.
pub async fn metrics_route() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render_metrics(),
    )
}
