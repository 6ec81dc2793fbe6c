//! What the console's queries and forms share: a field left blank is no field at all (an
//! HTML form sends every input, empty or not), and a project id that does not parse is named.

/// A field's value, trimmed; `None` when it is absent or blank.
pub(super) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The `project_id` field: none given, or a project id.
pub(super) fn project_id(value: &Option<String>) -> Result<Option<i64>, &'static str> {
    given(value)
        .map(|text| text.parse().map_err(|_| "project_id: not a project id"))
        .transpose()
}
