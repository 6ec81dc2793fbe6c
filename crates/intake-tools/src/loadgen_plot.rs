//! `intake loadgen --plot FILE.svg`: latency over time (p50 and p99 lines, left axis) over
//! the accepted uploads per second (grey bars, right axis), as a self-contained SVG drawn
//! by hand: a dozen elements need no plotting library.

use std::fmt::Write as _;

use crate::loadgen_timeseries::Second;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 50.0;
const TICKS: u32 = 5;

/// A round axis maximum at or above `value` (1, 2 or 5 times a power of ten).
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * power)
}

/// The chart of `seconds`, titled with `title`.
pub fn svg(seconds: &[Second], title: &str) -> String {
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let span = seconds.len().max(1) as f64;
    let latency_max = nice_ceiling(seconds.iter().map(|s| s.p99_ms).fold(0.0, f64::max));
    let rate_max = nice_ceiling(
        seconds
            .iter()
            .map(|s| s.accepted as f64)
            .fold(0.0, f64::max),
    );
    let x = |second: f64| LEFT + plot_w * second / span;
    let y_latency = |ms: f64| TOP + plot_h * (1.0 - ms / latency_max);
    let y_rate = |rate: f64| TOP + plot_h * (1.0 - rate / rate_max);

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Accepted per second as bars behind the lines.
    let bar = (plot_w / span).max(1.0);
    for s in seconds {
        let top = y_rate(s.accepted as f64);
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#d9d9d9"/>"##,
            x(s.second as f64),
            (bar - 1.0).max(0.5),
            TOP + plot_h - top
        );
    }
    // Grid and the two value axes.
    for tick in 0..=TICKS {
        let share = f64::from(tick) / f64::from(TICKS);
        let y = TOP + plot_h * (1.0 - share);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eeeeee"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            number(latency_max * share)
        );
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{:.1}" fill="#777777">{}</text>"##,
            LEFT + plot_w + 6.0,
            y + 4.0,
            number(rate_max * share)
        );
        let second = span * share;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(second),
            TOP + plot_h + 18.0,
            number(second)
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888888"/>"##
    );
    for (values, colour, name, legend_x) in [
        (
            seconds.iter().map(|s| s.p50_ms).collect::<Vec<_>>(),
            "#1f77b4",
            "p50",
            LEFT,
        ),
        (
            seconds.iter().map(|s| s.p99_ms).collect(),
            "#d62728",
            "p99",
            LEFT + 70.0,
        ),
    ] {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, ms)| format!("{:.1},{:.1}", x(i as f64 + 0.5), y_latency(*ms)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            points.join(" ")
        );
        let _ = writeln!(
            out,
            r#"<line x1="{legend_x}" y1="38" x2="{}" y2="38" stroke="{colour}" stroke-width="2"/><text x="{}" y="42">{name} ms</text>"#,
            legend_x + 20.0,
            legend_x + 25.0
        );
    }
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="32" width="20" height="10" fill="#d9d9d9"/><text x="{}" y="42">accepted/s (right axis)</text>"##,
        LEFT + 140.0,
        LEFT + 165.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">seconds since the start (requests by due time)</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate(18 {}) rotate(-90)" text-anchor="middle">latency, ms</text>"#,
        TOP + plot_h / 2.0
    );
    out.push_str("</svg>\n");
    out
}

fn number(value: f64) -> String {
    if value >= 100.0 || value == value.round() {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_and_the_chart_holds_every_second() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        let seconds: Vec<Second> = (0..3)
            .map(|i| Second {
                second: i,
                sent: 10,
                accepted: 10,
                p50_ms: 1.0,
                p99_ms: 4.0,
                ..Second::default()
            })
            .collect();
        let svg = svg(&seconds, "a <run>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("a &lt;run&gt;"));
    }
}
