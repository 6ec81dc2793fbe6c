//! The grouping section: E of each shape with front.group_publish on and off (fresh
//! processes, rotating order), JSON's also at twice the concurrency, the broker's CPU per
//! upload, and JSON accept latency at 10%, 50% and 90% of E without grouping (the same
//! offered load for both arms, in as many rounds as the closed loops, arms alternating). A
//! front that does not know the setting (its configuration refuses unknown keys) runs both arms without
//! it: an A/A comparison, which the report marks.

use std::process::Stdio;

use serde_json::json;

use super::loadgen::args;
use super::plan::{self, JSON};
use super::setup::FRONT_PORT;
use super::{Bench, SectionEnv};
use crate::bench::sample::write_json;

/// Whether `intake config show` has `group_publish` in its `[front]` table.
pub fn knows_group_publish(config: &str) -> bool {
    let mut in_front = false;
    config.lines().any(|line| {
        if line.starts_with('[') {
            in_front = line == "[front]";
        }
        in_front
            && line
                .strip_prefix("group_publish")
                .is_some_and(|rest| rest.trim_start_matches(' ').starts_with('='))
    })
}

/// The front's setting for an arm, when the front knows it.
fn arm_env(arm: &str, supported: bool) -> SectionEnv {
    let mut env = SectionEnv::default();
    if supported {
        let on = if arm == "on" { "true" } else { "false" };
        env.front = vec![("INTAKE_FRONT__GROUP_PUBLISH".into(), on.into())];
    }
    env
}

impl Bench {
    pub(super) async fn grouping(&mut self) -> anyhow::Result<()> {
        let config = self
            .binary("intake")
            .args(["config", "show"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default();
        let supported = knows_group_publish(&config);
        if !supported {
            self.say(
                "grouping: this intake-front has no front.group_publish: both arms run without it",
            );
        }
        let (conc, secs, runs) = (self.s.concurrency, self.s.seconds, self.s.group_runs);
        for (round, shape, arm) in plan::grouping_rounds(runs) {
            self.env = arm_env(arm, supported);
            let name = format!("grouping-{}-{arm}-r{round}", shape.name);
            self.start_pipeline(&name).await?;
            self.say(format_args!(
                "grouping[{}, {arm}]: closed loop {conc}, {secs} s, --verify (round {round} of \
                 {runs})",
                shape.name
            ));
            self.closed_with_wait(&name, conc, shape.args).await?;
            self.wait_drain().await;
            if shape.name == JSON.name {
                // Twice as many in flight: a closed loop of `conc` waits on the broker's
                // confirms and can leave CPU idle; this one shows what the machine can take.
                let wide = conc * 2;
                self.say(format_args!(
                    "grouping[json, {arm}]: closed loop {wide}, {secs} s, --verify (round \
                     {round} of {runs})"
                ));
                let wide_name = format!("grouping-json-{arm}-wide-r{round}");
                self.closed_with_wait(&wide_name, wide, shape.args).await?;
                self.wait_drain().await;
            }
            self.stop_pipeline().await?;
        }
        let e_off = plan::middle_rate(&self.rates(|name| {
            name.strip_prefix("grouping-json-off-r")
                .is_some_and(|round| round.ends_with(|c: char| c.is_ascii_digit()))
        }));
        let e = e_off.unwrap_or(0.0);
        // Latency moves between runs by as much as grouping changes it at low load: each
        // level is run in every round, arms alternating, and the report keeps medians.
        for round in 1..=runs {
            for arm in plan::arms_in_turn(round) {
                self.env = arm_env(arm, supported);
                self.start_pipeline(&format!("grouping-json-{arm}-open-r{round}"))
                    .await?;
                for percent in [10, 50, 90] {
                    let rate = plan::percent_of(e, percent);
                    self.say(format_args!(
                        "grouping[json, {arm}]: open loop {percent}% of {e:.0}/s = {rate}/s, \
                         {secs} s, --verify (round {round} of {runs})"
                    ));
                    let mut extra = self.open_args(rate);
                    extra.extend(args(JSON.args));
                    let name = format!("grouping-json-{arm}-open{percent}-r{round}");
                    self.loadgen(&name, FRONT_PORT, &extra).await?;
                    self.wait_drain().await;
                }
                self.stop_pipeline().await?;
            }
        }
        self.env = SectionEnv::default();
        let record = json!({
            "runs": runs,
            "supported": supported,
            "open_loop_levels_percent": [10, 50, 90],
            "open_loop_of": e_off,
            "wide_concurrency": conc * 2,
        });
        write_json(&self.path("grouping.json"), &record)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_publish_is_looked_for_in_the_front_table_only() {
        let config = "[front]\nlisten = \"x\"\ngroup_publish = true\n[consumer]\n";
        assert!(knows_group_publish(config));
        assert!(!knows_group_publish("[consumer]\ngroup_publish = true\n"));
        assert!(!knows_group_publish("[front]\ngroup_publish_max = 3\n"));
        assert!(knows_group_publish("[front]\ngroup_publish   = false\n"));
    }

    #[test]
    fn an_unknown_setting_is_left_out_of_both_arms() {
        assert!(arm_env("on", false).front.is_empty());
        let on = arm_env("on", true).front;
        assert_eq!(on, [("INTAKE_FRONT__GROUP_PUBLISH".into(), "true".into())]);
    }
}
