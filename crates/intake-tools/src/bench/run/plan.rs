//! The phase plan, pure: which runs happen in which order, the rates they offer, and the
//! medians that pick those rates. Rotating the order keeps what one phase leaves behind
//! (RabbitMQ's segment work, PostgreSQL's checkpoints and autovacuum) from always landing
//! on the same shape or setup.

/// A request shape of the end-to-end runs: its name and loadgen's arguments for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub name: &'static str,
    pub args: &'static [&'static str],
}

pub const JSON: Shape = Shape {
    name: "json",
    args: &["--mix", "json=1", "--points", "10"],
};
pub const FORM: Shape = Shape {
    name: "form",
    args: &["--mix", "form=1", "--points", "10"],
};
pub const MULTIPART: Shape = Shape {
    name: "multipart",
    args: &[
        "--mix",
        "multipart=1",
        "--points",
        "2",
        "--attachment-bytes",
        "102400",
    ],
};
pub const SHAPES: [Shape; 3] = [JSON, FORM, MULTIPART];

/// A shape of the broker and database stages: urlencoded sessions become the same queue
/// messages and rows as JSON ones, so two shapes cover the three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageShape {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// The stage's count is divided by this (a 100 KB file is ~100x the bytes).
    pub broker_divisor: u64,
    pub database_divisor: u64,
}

pub const STAGE_SHAPES: [StageShape; 2] = [
    StageShape {
        name: "json",
        args: &["--points", "10"],
        broker_divisor: 1,
        database_divisor: 1,
    },
    StageShape {
        name: "multipart",
        args: &["--points", "2", "--file-bytes", "102400"],
        broker_divisor: 10,
        database_divisor: 20,
    },
];

/// The extra closed-loop rounds of the end-to-end section (1 to `e_runs - 1`; the shapes'
/// own phases are the last run of each): `(round, shape)`, each round starting one shape on.
pub fn extra_rounds(e_runs: u64) -> Vec<(u64, Shape)> {
    (1..e_runs)
        .flat_map(|round| (0..3).map(move |k| (round, rotated(&SHAPES, k + round))))
        .collect()
}

/// The setups of the scale section.
pub const SCALE_SETUPS: [&str; 4] = ["single-p1", "single-p3", "cluster-p1", "cluster-p3"];

/// The scale section's runs: `(round, setup)`, round 1 starting at the first setup.
pub fn scale_rounds(runs: u64) -> Vec<(u64, &'static str)> {
    (1..=runs)
        .flat_map(|round| (0..4).map(move |k| (round, rotated(&SCALE_SETUPS, k + round - 1))))
        .collect()
}

/// The partition count a scale setup names (`single-p3` -> 3).
pub fn partitions(setup: &str) -> &str {
    setup.rsplit_once("-p").map_or("1", |(_, count)| count)
}

/// The grouping arms in the order a turn runs them, alternating with `turn`.
pub fn arms_in_turn(turn: u64) -> [&'static str; 2] {
    if turn % 2 == 1 {
        ["on", "off"]
    } else {
        ["off", "on"]
    }
}

/// The grouping section's closed-loop runs: `(round, shape, arm)`.
pub fn grouping_rounds(runs: u64) -> Vec<(u64, Shape, &'static str)> {
    (1..=runs)
        .flat_map(|round| {
            (0..3).flat_map(move |k| {
                let shape = rotated(&SHAPES, k + round);
                arms_in_turn(k + round).map(|arm| (round, shape, arm))
            })
        })
        .collect()
}

fn rotated<T: Copy, const N: usize>(items: &[T; N], index: u64) -> T {
    items[(index % N as u64) as usize]
}

/// The list `urls` rotated to start at node `first` (1-based), as each process of the
/// cluster setups starts at another node.
pub fn starting_at(urls: &[String], first: usize) -> Vec<String> {
    let count = urls.len();
    (0..count)
        .map(|i| urls[(i + first.saturating_sub(1)) % count].clone())
        .collect()
}

/// The rate a phase picks from its closed-loop runs: the upper middle of the sorted rates
/// (as the script always took it; with one or three runs it is the median).
pub fn middle_rate(rates: &[f64]) -> Option<f64> {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// `percent` of `rate`, rounded half up, as a whole rate for loadgen.
pub fn percent_of(rate: f64, percent: u64) -> u64 {
    (rate * percent as f64 / 100.0 + 0.5).max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_rounds_rotate_the_shapes() {
        let names: Vec<(u64, &str)> = extra_rounds(3)
            .into_iter()
            .map(|(round, shape)| (round, shape.name))
            .collect();
        assert_eq!(
            names,
            [
                (1, "form"),
                (1, "multipart"),
                (1, "json"),
                (2, "multipart"),
                (2, "json"),
                (2, "form")
            ]
        );
        assert!(extra_rounds(1).is_empty());
    }

    #[test]
    fn scale_rounds_start_one_setup_later_each_round() {
        let rounds = scale_rounds(2);
        assert_eq!(rounds.len(), 8);
        assert_eq!(rounds[0], (1, "single-p1"));
        assert_eq!(rounds[3], (1, "cluster-p3"));
        assert_eq!(rounds[4], (2, "single-p3"));
        assert_eq!(rounds[7], (2, "single-p1"));
        assert_eq!(partitions("cluster-p3"), "3");
        assert_eq!(partitions("single-p1"), "1");
    }

    #[test]
    fn grouping_rounds_alternate_the_arms() {
        let runs: Vec<String> = grouping_rounds(1)
            .into_iter()
            .map(|(round, shape, arm)| format!("{round}-{}-{arm}", shape.name))
            .collect();
        assert_eq!(
            runs,
            [
                "1-form-on",
                "1-form-off",
                "1-multipart-off",
                "1-multipart-on",
                "1-json-on",
                "1-json-off"
            ]
        );
        assert_eq!(arms_in_turn(1), ["on", "off"]);
        assert_eq!(arms_in_turn(2), ["off", "on"]);
    }

    #[test]
    fn cluster_urls_start_at_the_given_node() {
        let urls: Vec<String> = ["a", "b", "c"].map(String::from).into();
        assert_eq!(starting_at(&urls, 1), ["a", "b", "c"]);
        assert_eq!(starting_at(&urls, 2), ["b", "c", "a"]);
        assert!(starting_at(&[], 2).is_empty());
    }

    #[test]
    fn the_middle_rate_is_the_upper_middle_and_percentages_round_half_up() {
        assert_eq!(middle_rate(&[]), None);
        assert_eq!(middle_rate(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(middle_rate(&[4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(percent_of(1001.0, 50), 501);
        assert_eq!(percent_of(999.4, 200), 1999);
        assert_eq!(percent_of(0.0, 90), 0);
    }
}
