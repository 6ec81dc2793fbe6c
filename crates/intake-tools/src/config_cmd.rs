//! `intake config show` (the effective configuration, secrets redacted) and
//! `intake config check` (load it and check what loading alone cannot).

use anyhow::{Context as _, bail};
use clap::Subcommand;
use intake::config::Config;

use crate::settings::Settings;

/// `intake config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (files, then the environment) as TOML, with
    /// passwords redacted.
    Show,
    /// Load the configuration and check it; exits non-zero naming every problem.
    Check,
}

/// Runs `intake config …`.
pub fn run(command: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    let config = settings.load()?;
    let files = settings.source.files().join(", ");
    match command {
        ConfigCommand::Show => {
            let text = toml::to_string_pretty(&config).context("cannot print the configuration")?;
            println!("# read from {files}, then the environment; passwords redacted");
            print!("{text}");
        }
        ConfigCommand::Check => {
            let problems = problems(&config);
            if !problems.is_empty() {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                let count = problems.len();
                let plural = if count == 1 { "" } else { "s" };
                bail!("the configuration read from {files} has {count} problem{plural}");
            }
            println!("configuration OK (read from {files}, then the environment)");
        }
    }
    Ok(())
}

/// What would make a binary fail at start or misbehave, each naming its key.
pub fn problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut require = |ok: bool, problem: &str| {
        if !ok {
            problems.push(problem.to_owned());
        }
    };
    let (front, consumer, broker) = (&config.front, &config.consumer, &config.broker);
    require(
        front.publish_channels > 0,
        "front.publish_channels must be at least 1",
    );
    require(
        front.max_connections > 0,
        "front.max_connections must be at least 1",
    );
    require(
        front.max_in_flight_publishes > 0,
        "front.max_in_flight_publishes must be at least 1",
    );
    require(
        front.auth_window_seconds > 0,
        "front.auth_window_seconds must be positive",
    );
    require(
        front.auth_refresh_seconds > 0,
        "front.auth_refresh_seconds must be at least 1",
    );
    require(consumer.workers > 0, "consumer.workers must be at least 1");
    require(
        consumer.prefetch > 0,
        "consumer.prefetch must be at least 1",
    );
    require(
        consumer.batch_size > 0,
        "consumer.batch_size must be at least 1",
    );
    require(
        consumer.retry_initial_ms <= consumer.retry_max_ms,
        "consumer.retry_initial_ms must not exceed consumer.retry_max_ms",
    );
    require(
        broker.reconnect_initial_ms <= broker.reconnect_max_ms,
        "broker.reconnect_initial_ms must not exceed broker.reconnect_max_ms",
    );
    require(
        config.database.pool_size > 0,
        "database.pool_size must be at least 1",
    );
    if let Some(read_url) = &config.database.read_url {
        let url = read_url.expose();
        require(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "database.read_url must be a postgres:// URL",
        );
    }
    require(
        broker.queue != broker.dead_letter_queue,
        "broker.queue and broker.dead_letter_queue must differ",
    );
    let fixed = |address: std::net::SocketAddr| (address.port() != 0).then_some(address);
    require(
        fixed(front.listen).is_none() || fixed(front.listen) != fixed(front.metrics_listen),
        "front.listen and front.metrics_listen must differ",
    );
    let console = &config.console;
    for (name, other) in [
        ("front.listen", front.listen),
        ("front.metrics_listen", front.metrics_listen),
        ("consumer.listen", consumer.listen),
    ] {
        require(
            fixed(console.listen).is_none() || fixed(console.listen) != fixed(other),
            &format!("console.listen and {name} must differ"),
        );
    }
    require(
        console.session_ttl_minutes > 0,
        "console.session_ttl_minutes must be at least 1",
    );
    if let Err(error) =
        intake::front::tls::acceptor(front.tls_cert.as_deref(), front.tls_key.as_deref())
    {
        problems.push(format!("front.tls_cert/tls_key: {error}"));
    }
    problems
}
