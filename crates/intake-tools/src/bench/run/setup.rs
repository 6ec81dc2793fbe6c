//! What the benchmark owns and sets up: its ports, database, exchanges and queues (never
//! those `make run` uses), the environment its processes run in, its project and user, and
//! what it removes again at the end.

use std::ffi::OsStr;
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::Command;

use super::{Account, Bench};

pub const BARE_PORT: u16 = 18080;
pub const DISCARD_PORT: u16 = 18081;
pub const FRONT_PORT: u16 = 18082;
pub const FRONT_METRICS_PORT: u16 = 18083;
pub const CONSUMER_PORT: u16 = 19091;
pub const CONSUMER_ADDR: &str = "127.0.0.1:19091";
pub const DB_NAME: &str = "intake_bench";
pub const ADMIN_DB_URL: &str = "postgres://intake:intake@127.0.0.1:5432/intake";
pub const EXCHANGE: &str = "intake-bench.sessions";
pub const QUEUE: &str = "intake-bench.sessions";
pub const DEAD_LETTER_EXCHANGE: &str = "intake-bench.dead";
pub const DEAD_LETTER_QUEUE: &str = "intake-bench.dead";
/// The scale section's queues: one set per partition count.
pub const SCALE_QUEUES: [&str; 4] = [
    "intake-bench.scale-p1",
    "intake-bench.scale-p3",
    "intake-bench.scale-p3.p1",
    "intake-bench.scale-p3.p2",
];

/// The environment every process of the run gets (on top of the caller's, without
/// INTAKE_ENV and INTAKE_CONFIG_DIR): the benchmark's own database, names and ports.
fn base_env() -> Vec<(&'static str, String)> {
    let mut env = vec![
        (
            "DATABASE_URL",
            format!("postgres://intake:intake@127.0.0.1:5432/{DB_NAME}"),
        ),
        ("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        ("INTAKE_BROKER__EXCHANGE", EXCHANGE.into()),
        ("INTAKE_BROKER__QUEUE", QUEUE.into()),
        (
            "INTAKE_BROKER__DEAD_LETTER_EXCHANGE",
            DEAD_LETTER_EXCHANGE.into(),
        ),
        ("INTAKE_BROKER__DEAD_LETTER_QUEUE", DEAD_LETTER_QUEUE.into()),
        ("INTAKE_CONSUMER__LISTEN", CONSUMER_ADDR.into()),
        ("INTAKE_LISTEN", format!("127.0.0.1:{FRONT_PORT}")),
        (
            "INTAKE_FRONT__METRICS_LISTEN",
            format!("127.0.0.1:{FRONT_METRICS_PORT}"),
        ),
    ];
    if std::env::var_os("RUST_LOG").is_none() {
        env.push(("RUST_LOG", "warn".into()));
    }
    env
}

/// Runs `command` quietly, giving up after `seconds`; its output when it could run.
pub async fn quietly(mut command: Command, seconds: u64) -> Option<Output> {
    command.stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(seconds), command.output())
        .await
        .ok()?
        .ok()
}

/// Runs `command` with its output on our stderr; fails unless it succeeds.
pub async fn to_stderr(mut command: Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("cannot run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The last number in `text` (`intake project create` ends with the project's id).
pub fn last_number(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .rfind(|part| !part.is_empty())
        .map(str::to_owned)
}

/// The word after `key` on the line that starts with it (`username: bench-1`).
pub fn field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.split_whitespace().next())
        .map(str::to_owned)
}

fn rabbitmqctl_delete(queue: &str) -> Command {
    let mut command = Command::new("rabbitmqctl");
    command.args(["-q", "delete_queue", queue]);
    command
}

fn psql_drop() -> Command {
    let mut command = Command::new("psql");
    command.args([
        "-q",
        "-X",
        ADMIN_DB_URL,
        "-c",
        &format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"),
    ]);
    command
}

impl Bench {
    /// A command with the run's environment.
    pub(super) fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_remove("INTAKE_ENV")
            .env_remove("INTAKE_CONFIG_DIR")
            .envs(base_env())
            .kill_on_drop(true);
        command
    }

    /// One of the release binaries beside this one, with the run's environment.
    pub(super) fn binary(&self, name: &str) -> Command {
        self.command(self.bin.join(name))
    }

    /// The database (dropped, recreated, migrated), the queues (deleted), and the project
    /// and user the load runs send as.
    pub(super) async fn setup(&mut self) -> anyhow::Result<()> {
        self.say(format_args!(
            "database {DB_NAME} (dropped, recreated, migrated); queues {QUEUE}, \
             {DEAD_LETTER_QUEUE} (deleted)"
        ));
        for queue in [QUEUE, DEAD_LETTER_QUEUE] {
            quietly(rabbitmqctl_delete(queue), 20).await;
        }
        let mut psql = Command::new("psql");
        psql.args(["-q", "-X", ADMIN_DB_URL, "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
            .arg("-c")
            .arg(format!(
                "CREATE DATABASE {DB_NAME} OWNER intake ENCODING 'UTF8' LOCALE 'C.UTF-8' \
                 TEMPLATE template0"
            ));
        to_stderr(psql, "psql (recreating the database)").await?;
        let mut migrate = self.binary("intake");
        migrate.arg("migrate");
        to_stderr(migrate, "intake migrate").await?;

        let project = self.intake_output(&["project", "create", "bench"]).await?;
        let users = self.intake_output(&["user", "create", "bench"]).await?;
        let (Some(project), Some(user), Some(secret)) = (
            last_number(&project),
            field(&users, "username:"),
            field(&users, "secret:"),
        ) else {
            bail!("could not create the bench project and user");
        };
        let mut grant = self.binary("intake");
        grant.args(["user", "grant", &user, &project]);
        to_stderr(grant, "intake user grant").await?;
        self.say(format_args!("project {project}, user {user}"));
        self.account = Account {
            project,
            user,
            secret,
        };
        Ok(())
    }

    /// What `intake ARGS` prints; fails unless it succeeds.
    async fn intake_output(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .binary("intake")
            .args(args)
            .stdin(Stdio::null())
            .stderr(std::io::stderr())
            .output()
            .await
            .context("cannot run intake")?;
        if !output.status.success() {
            bail!("intake {} failed ({})", args.join(" "), output.status);
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Everything the run leaves behind, quietly: its processes, the cluster when it
    /// started it, the front's and consumer's queues, and the database (multipart runs
    /// store gigabytes of attachments) unless kept.
    pub(super) async fn cleanup(&mut self) {
        self.processes.stop_all().await;
        self.pipeline = None;
        if self.cluster_started {
            let mut down = Command::new("bash");
            down.args(["scripts/cluster.sh", "down"]);
            quietly(down, 120).await;
            self.cluster_started = false;
        }
        let mut queues = vec![QUEUE, DEAD_LETTER_QUEUE];
        if self.s.scale {
            queues.extend(SCALE_QUEUES);
        }
        for queue in queues {
            quietly(rabbitmqctl_delete(queue), 20).await;
        }
        if !self.s.keep_db {
            quietly(psql_drop(), 30).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_and_user_are_read_from_the_tools_output() {
        assert_eq!(
            last_number("created project 'bench' with id 42\n"),
            Some("42".into())
        );
        assert_eq!(last_number("none"), None);
        let users = "username: bench-7\nsecret: s3cr3t\nproject access: none\n";
        assert_eq!(field(users, "username:"), Some("bench-7".into()));
        assert_eq!(field(users, "secret:"), Some("s3cr3t".into()));
        assert_eq!(field(users, "token:"), None);
    }
}
