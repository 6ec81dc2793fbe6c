//! Names: the session uuid, the unit id, point names, and their form-notation fields.

use serde::{Deserialize, Serialize};

/// The longest uuid, unit id or point name, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The form-notation name of a top-level session field, e.g. `session[unit_id]`.
pub fn field_name(field: &str) -> String {
    format!("session[{field}]")
}

/// The form-notation name of a data point, e.g. `session[data][photo1]`.
pub fn point_field_name(point: &str) -> String {
    format!("session[data][{point}]")
}

/// A session uuid as the device gave it (not necessarily RFC 4122).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionUuid(String);

impl SessionUuid {
    /// Accepts 1–128 letters, digits and `-_.:{}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        check_length(text)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:{}".contains(c);
        if !text.chars().all(allowed) {
            return Err("may contain only letters, digits and -_.:{}".into());
        }
        Ok(Self(text.to_owned()))
    }

    /// A random RFC 4122 v4 uuid, for uploads that carry none.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The uuid as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The device's unit id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(String);

impl UnitId {
    /// Accepts 1–128 characters without control characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        check_length(text)?;
        check_no_control(text)?;
        Ok(Self(text.to_owned()))
    }

    /// The unit id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A point name, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PointName(pub(super) String);

impl PointName {
    /// Lower-cases, then accepts 1–128 characters without control characters or brackets.
    /// The rules apply to the name as stored: lower-casing can lengthen it (`İ` becomes two
    /// characters), and a name the front accepts must be one the consumer can store.
    pub fn parse(text: &str) -> Result<Self, String> {
        // Lower-casing never shortens a name: a name too long as sent is refused unread.
        check_length(text)?;
        let name = text.to_lowercase();
        check_length(&name)?;
        check_no_control(&name)?;
        if name.contains(['[', ']']) {
            return Err("must not contain [ or ]".into());
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_length(text: &str) -> Result<(), String> {
    match text.chars().count() {
        0 => Err("must not be empty".into()),
        n if n > MAX_NAME_CHARS => Err(format!("must be at most {MAX_NAME_CHARS} characters")),
        _ => Ok(()),
    }
}

fn check_no_control(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Re-checks a point name that arrived from elsewhere: valid, and already lower-case.
pub fn check_point_name(name: &PointName) -> Result<(), String> {
    match PointName::parse(name.as_str()) {
        Ok(parsed) if parsed == *name => Ok(()),
        Ok(_) => Err("name must be lower-case".into()),
        Err(message) => Err(format!("name {message}")),
    }
}
