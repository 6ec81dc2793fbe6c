//! How the summary writes figures: the same text for the same number as the report always
//! printed, so summaries from different runs diff cleanly.

use serde_json::Value;

/// A number as text: shortest form that reads back the same, without a trailing `.0`.
pub fn number(x: f64) -> String {
    if x == 0.0 {
        // Also turns -0 into 0.
        return "0".into();
    }
    format!("{x}")
}

/// Any value as text: strings as they are, numbers by [`number`], the rest as compact JSON.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(String::new, number),
        other => other.to_string(),
    }
}

/// A figure: whole numbers from 100 on, two decimals below; `–` when missing.
pub fn figure(value: &Value) -> String {
    match value {
        Value::Null => "–".into(),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or_default();
            if x >= 100.0 {
                number(x.round())
            } else {
                number((x * 100.0).round() / 100.0)
            }
        }
        other => show(other),
    }
}

/// A ratio as a whole percentage; `–` when missing.
pub fn percent(value: &Value) -> String {
    value.as_f64().map_or_else(
        || "–".into(),
        |x| format!("{}%", number((x * 100.0).round())),
    )
}

/// Whether a target was met; `n/a` when it has none.
pub fn verdict(value: &Value) -> &'static str {
    match value {
        Value::Null => "n/a",
        Value::Bool(false) => "**missed**",
        _ => "met",
    }
}

/// KiB as whole MiB; `–` when missing.
pub fn mib(value: &Value) -> String {
    value.as_f64().map_or_else(
        || "–".into(),
        |kib| format!("{} MiB", number((kib / 1024.0).round())),
    )
}

/// Latency percentiles `p50 / p99 / p99.9`.
pub fn latency(latency_ms: &Value) -> String {
    format!(
        "{} / {} / {}",
        figure(&latency_ms["p50"]),
        figure(&latency_ms["p99"]),
        figure(&latency_ms["p999"])
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_are_whole_from_100_and_have_two_decimals_below() {
        assert_eq!(figure(&json!(7701.46)), "7701");
        assert_eq!(figure(&json!(99.996)), "100");
        assert_eq!(figure(&json!(3.456)), "3.46");
        assert_eq!(figure(&json!(12.0)), "12");
        assert_eq!(figure(&json!(0.07)), "0.07");
        assert_eq!(figure(&Value::Null), "–");
    }

    #[test]
    fn percentages_megabytes_and_verdicts_read_as_people_write_them() {
        assert_eq!(percent(&json!(0.716)), "72%");
        assert_eq!(percent(&Value::Null), "–");
        assert_eq!(mib(&json!(63_488)), "62 MiB");
        assert_eq!(verdict(&json!(true)), "met");
        assert_eq!(verdict(&json!(false)), "**missed**");
        assert_eq!(verdict(&Value::Null), "n/a");
    }

    #[test]
    fn values_show_as_text_without_float_noise() {
        assert_eq!(show(&json!("x")), "x");
        assert_eq!(show(&json!(518.0)), "518");
        assert_eq!(show(&json!({"429": 3})), r#"{"429":3}"#);
        assert_eq!(show(&Value::Null), "null");
    }
}
