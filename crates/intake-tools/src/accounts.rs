//! `intake project …`, `intake user …` and `intake grant …`: the accounts' lifecycle. Every
//! change tells when the fronts apply it (they reload users and grants periodically).

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use diesel::PgConnection;
use intake::config::Config;
use intake::store::{accounts, admin};

/// Project subcommands.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its id.
    Create {
        /// A unique name.
        name: String,
    },
    /// List projects: id, name, created.
    List,
}

/// User subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an API user and print its secret (shown once here; keep it safe).
    Create {
        /// A unique user name.
        username: String,
    },
    /// List users: name, state, created, granted projects (never secrets).
    List,
    /// Let a user write to a project.
    Grant {
        /// The user name.
        username: String,
        /// The project id.
        project_id: i64,
    },
    /// Revoke a user: its requests are refused from the fronts' next reload on.
    Revoke {
        /// The user name.
        username: String,
    },
    /// Give a user a new secret and print it; the old one keeps working for --grace.
    RotateSecret {
        /// The user name.
        username: String,
        /// Seconds the old secret still works, so devices can move over (0: at once).
        #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
        grace: u32,
    },
}

/// Grant subcommands.
#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// List grants: user, project id, project name.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        /// Only this project's.
        #[arg(long)]
        project: Option<i64>,
    },
    /// Take a project away from a user.
    Revoke {
        /// The user name.
        username: String,
        /// The project id.
        project_id: i64,
    },
}

/// When the fronts see a change: at their next reload of users and grants.
fn takes_effect(config: &Config) -> String {
    format!(
        "the fronts apply it at their next reload, within {} s (front.auth_refresh_seconds)",
        config.front.auth_refresh_seconds
    )
}

fn user_id(conn: &mut PgConnection, username: &str) -> anyhow::Result<i64> {
    match admin::find_user(conn, username)? {
        Some(user) => Ok(user.id),
        None => bail!("no user called {username:?} (intake user list shows them)"),
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Runs `intake project …`.
pub fn project(command: ProjectCommand, conn: &mut PgConnection) -> anyhow::Result<()> {
    match command {
        ProjectCommand::Create { name } => match admin::create_project(conn, &name) {
            Ok(id) => println!("{id}"),
            Err(error) if admin::is_duplicate(&error) => {
                let id = admin::find_project(conn, &name)?.unwrap_or_default();
                bail!("a project called {name:?} already exists (id {id})");
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot create project {name:?}"));
            }
        },
        ProjectCommand::List => {
            println!("{:>6}  {:<20}  name", "id", "created");
            for project in accounts::list_projects(conn)? {
                let created = time(project.created_at);
                println!("{:>6}  {created:<20}  {}", project.id, project.name);
            }
        }
    }
    Ok(())
}

/// Runs `intake user …`.
pub fn user(command: UserCommand, conn: &mut PgConnection, config: &Config) -> anyhow::Result<()> {
    match command {
        UserCommand::Create { username } => match admin::create_user(conn, &username) {
            Ok(user) => println!("username: {}\nsecret: {}", user.username, user.secret),
            Err(error) if admin::is_duplicate(&error) => {
                bail!("a user called {username:?} already exists");
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot create user {username:?}"));
            }
        },
        UserCommand::List => {
            println!(
                "{:<24}  {:<8}  {:<20}  projects",
                "username", "state", "created"
            );
            for user in accounts::list_users(conn)? {
                let state = match (user.revoked_at, user.previous_secret_until) {
                    (Some(_), _) => "revoked".to_owned(),
                    (None, Some(until)) => {
                        format!("active, old secret valid until {}", time(until))
                    }
                    (None, None) => "active".to_owned(),
                };
                let projects: Vec<String> = user.projects.iter().map(i64::to_string).collect();
                let created = time(user.created_at);
                println!(
                    "{:<24}  {state:<8}  {created:<20}  {}",
                    user.username,
                    projects.join(",")
                );
            }
        }
        UserCommand::Grant {
            username,
            project_id,
        } => {
            let id = user_id(conn, &username)?;
            if !accounts::list_projects(conn)?
                .iter()
                .any(|p| p.id == project_id)
            {
                bail!("no project with id {project_id} (intake project list shows them)");
            }
            admin::grant(conn, id, project_id)
                .with_context(|| format!("cannot grant project {project_id}"))?;
            println!(
                "{username} may use project {project_id}; {}",
                takes_effect(config)
            );
        }
        UserCommand::Revoke { username } => {
            let id = user_id(conn, &username)?;
            if !accounts::revoke_user(conn, id)? {
                bail!("user {username:?} is already revoked");
            }
            println!("{username} is revoked; {}", takes_effect(config));
        }
        UserCommand::RotateSecret { username, grace } => {
            let id = user_id(conn, &username)?;
            let until = Utc::now() + chrono::Duration::seconds(i64::from(grace));
            let Some(secret) = accounts::rotate_secret(conn, id, until)? else {
                bail!("user {username:?} is revoked");
            };
            println!("username: {username}\nsecret: {secret}");
            eprintln!(
                "the old secret works until {}; the new one once {}",
                time(until),
                takes_effect(config).trim_start_matches("the fronts apply it ")
            );
        }
    }
    Ok(())
}

/// Runs `intake grant …`.
pub fn grant(
    command: GrantCommand,
    conn: &mut PgConnection,
    config: &Config,
) -> anyhow::Result<()> {
    match command {
        GrantCommand::List { user, project } => {
            println!("{:<24}  {:>6}  project", "username", "id");
            for (username, id, name) in accounts::list_grants(conn, user.as_deref(), project)? {
                println!("{username:<24}  {id:>6}  {name}");
            }
        }
        GrantCommand::Revoke {
            username,
            project_id,
        } => {
            let id = user_id(conn, &username)?;
            if !accounts::revoke_grant(conn, id, project_id)? {
                bail!("{username} is not granted project {project_id}");
            }
            println!(
                "{username} may no longer use project {project_id}; {}",
                takes_effect(config)
            );
        }
    }
    Ok(())
}
