//! `intake console-user …`: the console's own users (never API users), kept in PostgreSQL
//! with argon2 password hashes.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use diesel::PgConnection;
use diesel::prelude::*;
use intake::store::schema::console_users;

use super::users::{self, CreateError};

/// Name of the console user `intake console-user demo` (and `make run`) sets up.
pub const DEMO_CONSOLE_USER: &str = "demo";

/// Console user subcommands.
#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Create a console user; the password is read from stdin.
    Create {
        /// A unique name.
        name: String,
        /// Read the password from stdin (a trailing newline is dropped); the only way, so it
        /// never shows in the process list or the shell history.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List console users: name, created.
    List,
    /// Delete a console user and end its sessions (exit 1 when there is none).
    Delete {
        /// The name.
        name: String,
    },
    /// Give the demo console user a new random password (creating it if needed) and print it.
    Demo,
}

fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the password from stdin")?;
    let password = text
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&text);
    if password.is_empty() {
        bail!("the password on stdin is empty; refusing to create a user without one");
    }
    Ok(password.to_owned())
}

/// Runs `intake console-user …`.
pub fn run(command: ConsoleUserCommand, conn: &mut PgConnection) -> anyhow::Result<()> {
    match command {
        ConsoleUserCommand::Create { name, .. } => {
            if name.trim().is_empty() {
                bail!("the user name is empty");
            }
            let password = read_password()?;
            match users::create(conn, &name, &password) {
                Ok(_) => println!("console user {name} created"),
                Err(error @ CreateError::Exists(_)) => bail!("{error}"),
                Err(error) => {
                    return Err(error).with_context(|| format!("cannot create {name:?}"));
                }
            }
        }
        ConsoleUserCommand::List => {
            println!("{:<24}  created", "name");
            for user in users::list(conn)? {
                println!(
                    "{:<24}  {}",
                    user.name,
                    user.created_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
        }
        ConsoleUserCommand::Delete { name } => {
            if !users::delete(conn, &name)? {
                bail!("no console user called {name:?} (intake console-user list shows them)");
            }
            println!("console user {name} deleted; its sessions are ended");
        }
        ConsoleUserCommand::Demo => {
            let password = users::random_token()[..20].to_owned();
            let hash = users::hash_password(&password).map_err(anyhow::Error::msg)?;
            diesel::insert_into(console_users::table)
                .values((
                    console_users::name.eq(DEMO_CONSOLE_USER),
                    console_users::password_hash.eq(&hash),
                ))
                .on_conflict(console_users::name)
                .do_update()
                .set(console_users::password_hash.eq(&hash))
                .execute(conn)
                .context("cannot set up the demo console user")?;
            println!("console user:     {DEMO_CONSOLE_USER}");
            println!("console password: {password}");
        }
    }
    Ok(())
}
