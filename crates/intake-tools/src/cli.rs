//! The `intake` admin command: migrations, projects, users, grants, request signing, the
//! demo set-up `make run` prints, and the operators' tools (`loadgen`, `replay`, `dlq`).

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

use crate::args::{self as tool_args, DlqCommand, LoadgenArgs, ReplayCommand};
use intake::auth;
use intake::config::Config;
use intake::store::{Store, admin};

/// Administers an intake installation.
#[derive(Debug, Parser)]
#[command(name = "intake", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage API users.
    #[command(subcommand)]
    User(UserCommand),
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
        /// Base URL of the front, for the printed command.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
    },
    /// Simulate a fleet posting signed sessions to a front; report throughput and latency.
    Loadgen(Box<LoadgenArgs>),
    /// Republish archived uploads (NDJSON through a front, or raw messages to the broker).
    #[command(subcommand)]
    Replay(ReplayCommand),
    /// Inspect, requeue or purge the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// Project subcommands.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its id.
    Create {
        /// A unique name.
        name: String,
    },
}

/// User subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an API user and print its secret (shown once here; keep it safe).
    Create {
        /// A unique user name.
        username: String,
    },
    /// Let a user write to a project.
    Grant {
        /// The user name.
        username: String,
        /// The project id.
        project_id: i64,
    },
}

/// Name of the project `intake demo` creates.
pub const DEMO_PROJECT: &str = "demo";
/// Name of the user `intake demo` creates.
pub const DEMO_USER: &str = "demo";

/// Runs one parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // The tools need no database connection (or only their own), so they go first.
    let command = match cli.command {
        Command::Loadgen(args) => return tool_args::run_loadgen(*args),
        Command::Replay(command) => return tool_args::run_replay(command),
        Command::Dlq(command) => return tool_args::run_dlq(command),
        command => command,
    };
    let cli = Cli { command };
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
    let config = Config::load()?;
    let store = Store::new(&config.database);
    let mut conn = store.conn().context("cannot connect to PostgreSQL")?;
    match cli.command {
        Command::Migrate => {
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("database is up to date");
            }
            for version in applied {
                println!("applied migration {version}");
            }
        }
        Command::Project(ProjectCommand::Create { name }) => {
            let id = admin::create_project(&mut conn, &name)
                .with_context(|| format!("cannot create project {name:?}"))?;
            println!("{id}");
        }
        Command::User(UserCommand::Create { username }) => {
            let user = admin::create_user(&mut conn, &username)
                .with_context(|| format!("cannot create user {username:?}"))?;
            println!("username: {}\nsecret: {}", user.username, user.secret);
        }
        Command::User(UserCommand::Grant {
            username,
            project_id,
        }) => {
            let Some(user) = admin::find_user(&mut conn, &username)? else {
                bail!("no user called {username:?}");
            };
            admin::grant(&mut conn, user.id, project_id)
                .with_context(|| format!("cannot grant project {project_id} (does it exist?)"))?;
            println!("{username} may now use project {project_id}");
        }
        Command::Demo { url } => {
            store.ensure_migrated()?;
            let demo = admin::ensure_demo(&mut conn, DEMO_PROJECT, DEMO_USER)?;
            print_demo(&demo, &url);
        }
        Command::Sign { .. } | Command::Loadgen(_) | Command::Replay(_) | Command::Dlq(_) => {}
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
         -H @<(./target/release/intake sign -u {} --secret='{}') \\\n  \
         -H 'Content-Type: application/json' \\\n  \
         -d '{{\"session\": {{\"unit_id\": \"demo-device\", \"data\": {{\"point1\": \"hello\"}}}}}}'",
        user.username, user.secret
    );
}
