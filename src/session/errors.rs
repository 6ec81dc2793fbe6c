//! Validation failures by form-notation field, bounded: a hostile body can name millions of
//! bad fields, and an answer listing them all once reached 120 MiB.

use std::collections::BTreeMap;

use serde::Serialize;

/// Most fields an answer lists; the rest are only counted.
pub const MAX_LISTED_FIELDS: usize = 100;
/// Most messages listed for one field (a field given a million times is one problem).
pub const MAX_MESSAGES_PER_FIELD: usize = 10;
/// Longest field name or quoted client text in an answer or a log line, in characters.
pub const MAX_QUOTED_CHARS: usize = 200;

/// Validation failures: form-notation field name → messages. Sorted so responses are stable.
/// Holds at most [`MAX_LISTED_FIELDS`] fields of [`MAX_MESSAGES_PER_FIELD`] messages each,
/// names clipped to [`MAX_QUOTED_CHARS`]; every message is counted all the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors {
    fields: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    total: usize,
}

impl FieldErrors {
    /// Records one message against a field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.total = self.total.saturating_add(1);
        let field = clip(&field.into());
        if let Some(messages) = self.fields.get_mut(&field) {
            if messages.len() < MAX_MESSAGES_PER_FIELD {
                messages.push(message.into());
            }
        } else if self.fields.len() < MAX_LISTED_FIELDS {
            self.fields.insert(field, vec![message.into()]);
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The listed fields and their messages.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.fields.iter()
    }

    /// Messages recorded but not listed.
    pub fn omitted(&self) -> usize {
        let listed: usize = self.fields.values().map(Vec::len).sum();
        self.total.saturating_sub(listed)
    }

    /// One line naming every listed field and message, for logs and dead-letter reasons.
    pub fn summary(&self) -> String {
        let mut line = self
            .fields
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join("; ")))
            .collect::<Vec<_>>()
            .join(", ");
        let omitted = self.omitted();
        if omitted > 0 {
            line.push_str(&format!(" (and {omitted} more)"));
        }
        line
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Client-chosen text shortened for an answer or a log line: at most [`MAX_QUOTED_CHARS`]
/// characters, with `…` where it was cut.
pub fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn errors_are_listed_up_to_the_caps_and_all_counted() {
        let mut errors = FieldErrors::default();
        for i in 0..1_000 {
            errors.add(format!("f{i}"), "bad");
        }
        for _ in 0..50 {
            errors.add("f0", "again");
        }
        assert_eq!(errors.iter().count(), MAX_LISTED_FIELDS);
        assert_eq!(errors.iter().next().map(|(_, m)| m.len()), Some(10));
        assert_eq!(errors.omitted(), 1_050 - MAX_LISTED_FIELDS - 9);
        assert!(
            errors
                .summary()
                .ends_with(&format!("(and {} more)", errors.omitted()))
        );
    }

    #[test]
    fn long_names_are_clipped() {
        let mut errors = FieldErrors::default();
        errors.add("x".repeat(10_000), "bad");
        let (name, _) = errors.iter().next().unwrap();
        assert_eq!(name.chars().count(), MAX_QUOTED_CHARS + 1);
        assert_eq!(clip("short"), "short");
    }
}
