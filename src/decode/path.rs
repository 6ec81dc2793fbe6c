//! The bracket-name grammar shared by urlencoded and multipart bodies, so both read
//! `session[data][p][rawData]` the same way.

/// What a form field name addresses in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPath {
    /// `session[uuid]`.
    Uuid,
    /// `session[unit_id]`.
    UnitId,
    /// `session[created]`.
    Created,
    /// `session[saved]`.
    Saved,
    /// `session[data][<point>]`, the point name as given.
    Point(String),
    /// `session[data][<point>][rawData]`, the point name as given.
    RawData(String),
    /// A name outside `session[…]`, or an unknown top-level session field: not ours.
    Ignored,
    /// A name under `session[…]` that fits no shape; the message says why.
    Invalid(String),
}

/// Classifies an already-decoded field name.
///
/// Unknown top-level fields such as `session[foo]` (and anything below them) are ignored
/// rather than refused, as JSON ignores unknown keys: clients may send extra fields that MDA
/// knew about. The case of `session`, `data` and `rawData` matters, as in JSON keys.
pub fn classify(name: &str) -> FieldPath {
    let Some(rest) = name.strip_prefix("session") else {
        return FieldPath::Ignored;
    };
    if !rest.starts_with('[') {
        return FieldPath::Ignored;
    }
    let Some(segments) = segments(rest) else {
        return FieldPath::Invalid(
            "is not a valid field name: use session[field] or session[data][point]".into(),
        );
    };
    match segments.as_slice() {
        ["uuid"] => FieldPath::Uuid,
        ["unit_id"] => FieldPath::UnitId,
        ["created"] => FieldPath::Created,
        ["saved"] => FieldPath::Saved,
        ["data", ""] | ["data", "", "rawData"] => {
            FieldPath::Invalid("point name must not be empty".into())
        }
        ["data", point] => FieldPath::Point((*point).to_owned()),
        ["data", point, "rawData"] => FieldPath::RawData((*point).to_owned()),
        ["data"] => FieldPath::Invalid("must name a point: session[data][point]".into()),
        ["data", ..] => FieldPath::Invalid(
            "a point is session[data][point] or session[data][point][rawData]".into(),
        ),
        ["uuid" | "unit_id" | "created" | "saved", ..] => {
            FieldPath::Invalid("must be a plain value, without further [brackets]".into())
        }
        [""] | ["", ..] => FieldPath::Invalid("names no session field".into()),
        _ => FieldPath::Ignored,
    }
}

/// Splits `[a][b][c]` into `a`, `b`, `c`; `None` unless the text is exactly such a sequence
/// (so a point name can never contain a bracket).
fn segments(mut rest: &str) -> Option<Vec<&str>> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        let segment = inner.get(..end)?;
        if segment.contains('[') {
            return None;
        }
        segments.push(segment);
        rest = inner.get(end + 1..)?;
    }
    Some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fields() {
        assert_eq!(classify("session[uuid]"), FieldPath::Uuid);
        assert_eq!(classify("session[unit_id]"), FieldPath::UnitId);
        assert_eq!(classify("session[created]"), FieldPath::Created);
        assert_eq!(classify("session[saved]"), FieldPath::Saved);
        assert_eq!(
            classify("session[data][P 1]"),
            FieldPath::Point("P 1".into())
        );
        assert_eq!(
            classify("session[data][s][rawData]"),
            FieldPath::RawData("s".into())
        );
    }

    #[test]
    fn foreign_and_unknown_names_are_ignored() {
        for name in ["", "x", "session", "sessions[uuid]", "other[session][uuid]"] {
            assert_eq!(classify(name), FieldPath::Ignored, "{name}");
        }
        assert_eq!(classify("session[foo]"), FieldPath::Ignored);
        assert_eq!(classify("session[UUID]"), FieldPath::Ignored);
        assert_eq!(classify("session[foo][bar]"), FieldPath::Ignored);
    }

    #[test]
    fn bad_shapes_are_invalid() {
        for name in [
            "session[",
            "session[uuid",
            "session[uuid]x",
            "session[uuid][x]",
            "session[data]",
            "session[data][]",
            "session[data][][rawData]",
            "session[data][p][x]",
            "session[data][p][rawdata]",
            "session[data][p][rawData][x]",
            "session[data][p][]",
            "session[data][a[b]]",
            "session[data][a]b]",
            "session[data][p]]",
            "session[]",
            "session[][x]",
        ] {
            assert!(
                matches!(classify(name), FieldPath::Invalid(_)),
                "{name}: {:?}",
                classify(name)
            );
        }
    }
}
