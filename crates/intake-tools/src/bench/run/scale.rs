//! The scale section: E (JSON, closed loop) with broker.partitions 1 and 3, on the single
//! node and on the local 3-node cluster (scripts/cluster.sh), each setup with fresh
//! processes, in rotating order. Each partition count has an exchange and queues of its own,
//! so a consumer never finds the other count's queues.

use std::process::Stdio;

use anyhow::Context as _;
use serde_json::json;
use tokio::process::Command;

use super::plan::{self, JSON};
use super::process::log_file;
use super::{Bench, SectionEnv};
use crate::bench::sample::write_json;

fn cluster(command: &str) -> Command {
    let mut cluster = Command::new("bash");
    cluster
        .args(["scripts/cluster.sh", command])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cluster
}

fn pair(key: &str, value: impl Into<String>) -> (String, String) {
    (key.into(), value.into())
}

/// The pipeline's settings for a scale setup; `urls` are the cluster's AMQP URLs.
pub fn setup_env(setup: &str, urls: &[String]) -> SectionEnv {
    let parts = plan::partitions(setup);
    let names = format!("intake-bench.scale-p{parts}");
    let mut env = SectionEnv {
        both: vec![
            pair("INTAKE_BROKER__PARTITIONS", parts),
            pair("INTAKE_BROKER__EXCHANGE", names.clone()),
            pair("INTAKE_BROKER__QUEUE", names),
        ],
        ..SectionEnv::default()
    };
    if setup.starts_with("cluster-") {
        // As docs/SCALING.md says: every node listed, each process starting at another node,
        // and a publish timeout that waits out a leader election.
        env.both
            .push(pair("INTAKE_FRONT__PUBLISH_TIMEOUT_MS", "10000"));
        env.front = vec![pair("AMQP_URL", plan::starting_at(urls, 1).join(","))];
        env.consumer = vec![pair("AMQP_URL", plan::starting_at(urls, 2).join(","))];
    }
    env
}

impl Bench {
    /// Appends `scripts/cluster.sh COMMAND`'s output to cluster.log; whether it succeeded.
    async fn cluster_logged(&self, command: &str, append: bool) -> anyhow::Result<bool> {
        let path = self.path("cluster.log");
        let log = if append {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?
        } else {
            log_file(&path)?
        };
        let status = cluster(command)
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .await?;
        Ok(status.success())
    }

    pub(super) async fn scale(&mut self) -> anyhow::Result<()> {
        let running = cluster("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|status| status.success());
        let mut note = "started";
        if running {
            note = "already running";
        } else {
            self.say("scale: starting the local 3-node cluster (scripts/cluster.sh up)");
            // Ours from before it starts, so that an exit during the start stops what did.
            self.cluster_started = true;
            if !self.cluster_logged("up", false).await? {
                note = "could not start (see cluster.log)";
                self.say(format_args!("  the cluster {note}: its setups are skipped"));
                let _ = self.cluster_logged("down", true).await;
                self.cluster_started = false;
            }
        }
        let urls: Vec<String> = match cluster("urls").output().await {
            Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
                .trim()
                .split(',')
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let (conc, secs, runs) = (self.s.concurrency, self.s.seconds, self.s.scale_runs);
        for (round, setup) in plan::scale_rounds(runs) {
            if setup.starts_with("cluster-") && note.starts_with("could") {
                continue;
            }
            self.env = setup_env(setup, &urls);
            let name = format!("scale-{setup}-r{round}");
            self.start_pipeline(&name).await?;
            self.say(format_args!(
                "scale[{setup}]: JSON closed loop {conc}, {secs} s, --verify (round {round} of \
                 {runs})"
            ));
            self.closed_with_cpu(&name, conc, JSON.args).await?;
            self.wait_drain().await;
            self.stop_pipeline().await?;
        }
        self.env = SectionEnv::default();
        if self.cluster_started {
            self.say("scale: stopping the cluster");
            if !self.cluster_logged("down", true).await.unwrap_or(false) {
                self.say(format_args!(
                    "  scripts/cluster.sh down failed (see {})",
                    self.path("cluster.log").display()
                ));
            }
            self.cluster_started = false;
        }
        let record = json!({"runs": runs, "setups": plan::SCALE_SETUPS, "cluster": note});
        write_json(&self.path("scale.json"), &record)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_setups_list_every_node_from_another_one_for_each_process() {
        let urls: Vec<String> = ["amqp://a", "amqp://b", "amqp://c"]
            .map(String::from)
            .into();
        let single = setup_env("single-p3", &urls);
        assert!(
            single
                .both
                .contains(&pair("INTAKE_BROKER__PARTITIONS", "3"))
        );
        assert!(
            single
                .both
                .contains(&pair("INTAKE_BROKER__QUEUE", "intake-bench.scale-p3"))
        );
        assert!(single.front.is_empty() && single.consumer.is_empty());
        let cluster = setup_env("cluster-p1", &urls);
        assert!(
            cluster
                .both
                .contains(&pair("INTAKE_FRONT__PUBLISH_TIMEOUT_MS", "10000"))
        );
        assert_eq!(
            cluster.front,
            [pair("AMQP_URL", "amqp://a,amqp://b,amqp://c")]
        );
        assert_eq!(
            cluster.consumer,
            [pair("AMQP_URL", "amqp://b,amqp://c,amqp://a")]
        );
    }
}
