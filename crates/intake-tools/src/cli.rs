//! The `intake` admin command: migrations, projects, users, grants, request signing, the
//! demo set-up `make run` prints, the configuration, and the operators' tools (`loadgen`,
//! `replay`, `dlq`, `export`, `purge`, `events tail`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::accounts::{self, GrantCommand, ProjectCommand, UserCommand};
use crate::args::{
    self as tool_args, DlqCommand, EventsCommand, ExportArgs, LoadgenArgs, PurgeArgs, ReplayCommand,
};
use crate::config_cmd::{self, ConfigCommand};
use crate::console::user_cmd::{self, ConsoleUserCommand};
use crate::settings::Settings;
use intake::auth;
use intake::store::partition::{self, Partitioned};
use intake::store::{Store, admin};

/// Administers an intake installation.
#[derive(Debug, Parser)]
#[command(name = "intake", version, about)]
pub struct Cli {
    /// Configuration file, laid over the built-in defaults [default: INTAKE_CONFIG_DIR
    /// (else ./config)/default.toml and the INTAKE_ENV overlay]; the environment still wins.
    #[arg(long, global = true, env = "INTAKE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations.
    Migrate {
        /// Then hash-partition sessions and attachments by project into this many partitions
        /// (docs/SCALING.md); a no-op when they already have as many.
        #[arg(long, value_name = "N")]
        partitions: Option<u32>,
    },
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API users.
    #[command(subcommand)]
    User(UserCommand),
    /// List or revoke grants (`intake user grant` gives one).
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Print the two auth headers for a request (`curl -H @<(intake sign …)` reads them).
    Sign {
        /// The API user name.
        #[arg(short, long)]
        username: String,
        /// The user's API secret.
        #[arg(short, long, env = "INTAKE_API_SECRET", hide_env_values = true)]
        secret: String,
        /// Unix seconds to sign (default: now).
        #[arg(short, long)]
        timestamp: Option<i64>,
    },
    /// Create the demo project and user unless they exist, and show how to post a session.
    Demo {
        /// Base URL of the front, for the printed command [default: from the
        /// configuration's front.listen].
        #[arg(long)]
        url: Option<String>,
    },
    /// Show or check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Simulate a fleet posting signed sessions to a front; report throughput and latency.
    Loadgen(Box<LoadgenArgs>),
    /// Republish archived uploads (NDJSON through a front, or raw messages to the broker).
    #[command(subcommand)]
    Replay(ReplayCommand),
    /// Inspect, requeue or purge the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Hard-delete soft-deleted or old sessions of a project, leaving tombstones.
    Purge(Box<PurgeArgs>),
    /// Write a project's sessions as NDJSON or CSV, as the export route streams them.
    Export(ExportArgs),
    /// Watch the stored-events consumers publish (docs/EVENTS.md).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Serve the operators' web console on console.listen (docs/CONSOLE.md).
    Console,
    /// Manage the console's users (apart from API users).
    #[command(subcommand)]
    ConsoleUser(ConsoleUserCommand),
}

/// Name of the project `intake demo` creates.
pub const DEMO_PROJECT: &str = "demo";
/// Name of the user `intake demo` creates.
pub const DEMO_USER: &str = "demo";

/// Runs one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::new(cli.config);
    // The tools need no database connection (or only their own), so they go first.
    let command = match cli.command {
        Command::Loadgen(args) => return tool_args::run_loadgen(*args, &settings),
        Command::Replay(command) => return tool_args::run_replay(command, &settings),
        Command::Dlq(command) => return tool_args::run_dlq(command, &settings),
        Command::Purge(args) => return tool_args::run_purge(*args, &settings),
        Command::Export(args) => return tool_args::run_export(args, &settings),
        Command::Events(command) => return tool_args::run_events(command, &settings),
        Command::Config(command) => return config_cmd::run(command, &settings),
        Command::Console => return crate::console::run(settings.load()?),
        command => command,
    };
    let cli = Cli {
        config: None,
        command,
    };
    if let Command::Sign {
        username,
        secret,
        timestamp,
    } = &cli.command
    {
        let timestamp = timestamp.unwrap_or_else(|| chrono::Utc::now().timestamp());
        for (name, value) in auth::headers(username, secret, timestamp) {
            println!("{name}: {value}");
        }
        return Ok(());
    }
    let config = settings.load()?;
    let store = Store::new(&config.database);
    let mut conn = store.conn().context("cannot connect to PostgreSQL")?;
    match cli.command {
        Command::Migrate { partitions } => {
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for version in applied {
                println!("applied migration {version}");
            }
            if let Some(partitions) = partitions {
                partition(&mut conn, partitions)?;
            }
        }
        Command::Project(command) => accounts::project(command, &mut conn)?,
        Command::ConsoleUser(command) => {
            store.ensure_migrated()?;
            user_cmd::run(command, &mut conn)?;
        }
        Command::User(command) => accounts::user(command, &mut conn, &config)?,
        Command::Grant(command) => accounts::grant(command, &mut conn, &config)?,
        Command::Demo { url } => {
            store.ensure_migrated()?;
            let demo = admin::ensure_demo(&mut conn, DEMO_PROJECT, DEMO_USER)?;
            let url = url.unwrap_or_else(|| crate::settings::front_url(&config));
            print_demo(&demo, &url);
        }
        Command::Sign { .. }
        | Command::Loadgen(_)
        | Command::Replay(_)
        | Command::Dlq(_)
        | Command::Purge(_)
        | Command::Export(_)
        | Command::Events(_)
        | Command::Console
        | Command::Config(_) => {}
    }
    Ok(())
}

fn partition(conn: &mut diesel::PgConnection, partitions: u32) -> anyhow::Result<()> {
    // One transaction that locks both tables: say so before the wait starts.
    eprintln!("partitioning sessions and attachments into {partitions}; writes wait meanwhile");
    match partition::partition_by_project(conn, partitions)? {
        Partitioned::Unchanged => {
            println!("sessions and attachments already have {partitions} partitions");
        }
        Partitioned::Converted {
            sessions,
            attachments,
        } => println!(
            "sessions and attachments now have {partitions} partitions: \
             moved {sessions} sessions and {attachments} attachments"
        ),
    }
    Ok(())
}

fn print_demo(demo: &admin::Demo, url: &str) {
    let admin::Demo { project_id, user } = demo;
    println!("demo project id: {project_id}");
    println!("demo username:   {}", user.username);
    println!("demo secret:     {}", user.secret);
    println!();
    println!("Post a signed session (bash):");
    println!(
        "curl -sS -X POST {url}/api/v1/projects/{project_id}/sessions \\\n  \
         -H @<({} sign -u {} --secret='{}') \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"session\": {{\"unit_id\": \"demo-device\", \"data\": {{\"point1\": \"hello\"}}}}}}'",
        this_binary(),
        user.username,
        user.secret
    );
}

/// How to call this binary again: its path as run (`./target/release/intake`, or `intake`
/// when installed on PATH), so the printed command works where it is pasted.
fn this_binary() -> String {
    match std::env::args().next() {
        Some(arg0) if arg0.contains('/') => arg0,
        _ => "intake".into(),
    }
}
