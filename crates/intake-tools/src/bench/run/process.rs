//! The processes a run starts: each spawned with its environment and a log file, waited for
//! (a port, a readiness URL), stopped by pid with TERM and then KILL after a timeout, and
//! every one still running stopped when the run ends, failures included.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

/// How long a started process may take to listen or become ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped process may take to exit after TERM before it gets KILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A started process: what it is and where it logs, for messages.
struct Running {
    name: String,
    log: PathBuf,
    child: Child,
}

/// Every process this run started and has not stopped yet. Only these pids are ever
/// signalled: they are our own unreaped children, so a pid reused by another process is
/// never hit.
#[derive(Default)]
pub struct Processes {
    running: Vec<Running>,
}

/// Opens `path` for a child's output.
pub fn log_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

impl Processes {
    /// Starts `command` with its stdout and stderr in `log`; returns its pid.
    pub fn start(&mut self, name: &str, mut command: Command, log: &Path) -> anyhow::Result<u32> {
        let file = log_file(log)?;
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true);
        self.adopt(name, command, log)
    }

    /// Starts `command` with the outputs it was given; returns its pid.
    pub fn adopt(&mut self, name: &str, mut command: Command, log: &Path) -> anyhow::Result<u32> {
        let child = command
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let pid = child
            .id()
            .context("a process that just started has no pid")?;
        self.running.push(Running {
            name: name.into(),
            log: log.into(),
            child,
        });
        Ok(pid)
    }

    fn find(&mut self, pid: u32) -> Option<&mut Running> {
        self.running
            .iter_mut()
            .find(|run| run.child.id() == Some(pid))
    }

    /// Fails when process `pid` has exited (it was to keep running), naming its log.
    fn check_alive(&mut self, pid: u32, doing: &str) -> anyhow::Result<()> {
        let Some(run) = self.find(pid) else {
            bail!("process {pid} is not one this run started");
        };
        if let Some(status) = run.child.try_wait()? {
            bail!(
                "{} exited ({status}) before {doing} (see {})",
                run.name,
                run.log.display()
            );
        }
        Ok(())
    }

    /// Waits until something listens on 127.0.0.1:`port`, while `pid` runs.
    pub async fn wait_port(&mut self, port: u16, pid: u32) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while port_free(port).await {
            self.check_alive(pid, &format!("listening on 127.0.0.1:{port}"))?;
            if Instant::now() >= deadline {
                bail!("nothing listening on 127.0.0.1:{port} after 60 s");
            }
            sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    }

    /// Waits until `url` answers with a success status, while `pid` runs.
    pub async fn wait_ready(&mut self, url: &str, pid: u32) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        loop {
            let answer = client.get(url).send().await;
            if answer.is_ok_and(|answer| answer.status().is_success()) {
                return Ok(());
            }
            self.check_alive(pid, &format!("{url} answered"))?;
            if Instant::now() >= deadline {
                bail!("{url} not ready after 60 s");
            }
            sleep(Duration::from_millis(300)).await;
        }
    }

    /// Whether process `pid` is one of ours and still running.
    pub fn is_running(&mut self, pid: u32) -> bool {
        self.find(pid)
            .is_some_and(|run| matches!(run.child.try_wait(), Ok(None)))
    }

    /// Waits for process `pid` to exit by itself; `None` for a pid this run does not hold.
    pub async fn wait(&mut self, pid: u32) -> Option<std::process::ExitStatus> {
        let index = self
            .running
            .iter()
            .position(|run| run.child.id() == Some(pid))?;
        let mut run = self.running.swap_remove(index);
        run.child.wait().await.ok()
    }

    /// Stops process `pid`: TERM, up to 10 s, then KILL.
    pub async fn stop(&mut self, pid: u32) {
        if let Some(index) = self
            .running
            .iter()
            .position(|run| run.child.id() == Some(pid))
        {
            let run = self.running.swap_remove(index);
            stop_child(run.child).await;
        }
    }

    /// Stops every process still running, the last started first.
    pub async fn stop_all(&mut self) {
        while let Some(run) = self.running.pop() {
            stop_child(run.child).await;
        }
    }
}

async fn stop_child(mut child: Child) {
    if let Some(pid) = child.id() {
        // `kill` rather than a signal call of our own: the workspace forbids unsafe code.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .await;
    }
    if tokio::time::timeout(STOP_TIMEOUT, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

/// Whether nothing accepts connections on 127.0.0.1:`port`.
pub async fn port_free(port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    !matches!(
        tokio::time::timeout(Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("intake-bench-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    }

    #[tokio::test]
    async fn a_process_that_ignores_term_is_killed_and_every_one_is_stopped() {
        let dir = dir();
        let mut processes = Processes::default();
        let mut stubborn = Command::new("sh");
        stubborn.args(["-c", "trap '' TERM; exec sleep 30"]);
        let stubborn = processes
            .start("stubborn", stubborn, &dir.join("stubborn.log"))
            .expect("sh starts");
        let mut quiet = Command::new("sleep");
        quiet.arg("30");
        processes
            .start("sleep", quiet, &dir.join("sleep.log"))
            .expect("sleep starts");
        sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        processes.stop_all().await;
        assert!(processes.running.is_empty());
        assert!(started.elapsed() >= STOP_TIMEOUT);
        assert!(!Path::new(&format!("/proc/{stubborn}/stat")).exists());
    }

    #[tokio::test]
    async fn waiting_for_a_process_that_exited_says_so_with_its_log() {
        let dir = dir();
        let mut processes = Processes::default();
        let mut gone = Command::new("true");
        gone.arg("ignored");
        let pid = processes
            .start("intake-front", gone, &dir.join("front.log"))
            .expect("true starts");
        let error = processes
            .wait_ready("http://127.0.0.1:9/readyz", pid)
            .await
            .expect_err("it exited");
        let message = error.to_string();
        assert!(message.contains("intake-front exited"), "{message}");
        assert!(message.contains("front.log"), "{message}");
        processes.stop_all().await;
    }
}
