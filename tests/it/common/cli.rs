//! The `intake` binary run as an operator runs it: from a directory of its own (not the
//! repository, so nothing is found by accident), with a `--config` file naming the test's
//! front, database and queues, and none of the environment's overrides.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::{TestApp, amqp_url};

/// The built `intake` binary, beside this test binary (`cargo test`/`nextest --workspace`
/// build every binary of the workspace's default members).
pub fn intake_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap().to_owned();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("intake");
    assert!(
        path.exists(),
        "{} is missing: cargo build -p intake-tools",
        path.display()
    );
    path
}

/// A working directory of its own with `site.toml` in it.
pub struct Cli {
    pub dir: PathBuf,
    pub config: PathBuf,
}

impl Cli {
    /// `site.toml` holding `text`.
    pub fn with_config(text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("intake-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("site.toml");
        std::fs::write(&config, text).unwrap();
        Self { dir, config }
    }

    /// A configuration naming the app's front, database and queues.
    pub fn for_app(app: &TestApp) -> Self {
        Self::with_config(&app_config(app))
    }

    /// `intake --config site.toml ARGS…`.
    pub async fn run(&self, args: &[&str]) -> Output {
        let config = self.config.to_str().unwrap().to_owned();
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        self.run_without_config(&all).await
    }

    /// `intake --config site.toml ARGS…` left running, stdout and stderr piped, killed when
    /// dropped.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        command(&self.dir)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    /// `intake --config site.toml ARGS…` with `input` on its stdin.
    pub async fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use tokio::io::AsyncWriteExt as _;
        let mut child = command(&self.dir)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).await.unwrap();
        drop(stdin);
        child.wait_with_output().await.unwrap()
    }

    /// `intake ARGS…`, from the directory, with no configuration from the environment.
    pub async fn run_without_config(&self, args: &[&str]) -> Output {
        command(&self.dir).args(args).output().await.unwrap()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn command(dir: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(intake_binary());
    command.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("INTAKE_") || name == "DATABASE_URL" || name == "AMQP_URL" {
            command.env_remove(name);
        }
    }
    command
}

/// The app's settings as a `--config` file (over the built-in defaults).
pub fn app_config(app: &TestApp) -> String {
    let topology = &app.topology;
    format!(
        "[front]\nlisten = \"{}\"\n\n[database]\nurl = \"{}\"\n\n[broker]\nurl = \"{}\"\n\
         exchange = \"{}\"\nqueue = \"{}\"\ndead_letter_exchange = \"{}\"\n\
         dead_letter_queue = \"{}\"\nevents_exchange = \"{}\"\n",
        app.address,
        app.db.url,
        amqp_url(),
        topology.exchange,
        topology.queue,
        topology.dead_letter_exchange,
        topology.dead_letter_queue,
        topology.events_exchange,
    )
}

/// stdout and stderr as text, for assertions and their messages.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
