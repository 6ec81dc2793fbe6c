//! The sessions list's query: its filters parsed (each error naming its field), the
//! keyset cursor, the next page's URL, and path segments percent-encoded.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::fields::given;
use super::sessions_query::{Cursor, Deleted, Filters};

/// Rows a page shows unless `page_size` says otherwise.
const PAGE_SIZE: i64 = 50;

/// Query of the list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub(super) unit_id: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    pub(super) deleted: Option<String>,
    pub(super) after: Option<String>,
    pub(super) uuid: Option<String>,
    pub(super) page_size: Option<String>,
}

/// RFC 3339, or a `datetime-local` value (taken as UTC).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// A filter that does not parse: the field and why.
pub(super) type Bad = (&'static str, &'static str);

pub(super) fn filters(query: &ListQuery) -> Result<(Filters, Option<Cursor>, i64), Bad> {
    let time = |field: &'static str,
                value: &Option<String>|
     -> Result<Option<DateTime<Utc>>, Bad> {
        given(value)
            .map(|text| parse_time(text).ok_or((field, "not an RFC 3339 or datetime-local time")))
            .transpose()
    };
    let deleted = match given(&query.deleted) {
        None => Deleted::Exclude,
        Some("include") => Deleted::Include,
        Some("only") => Deleted::Only,
        Some(_) => return Err(("deleted", "must be include, only or empty")),
    };
    let after = given(&query.after)
        .map(|text| Cursor::decode(text).ok_or(("after", "not a page cursor")))
        .transpose()?;
    let size = match given(&query.page_size) {
        None => PAGE_SIZE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or(("page_size", "must be 1 to 500"))?,
    };
    let filters = Filters {
        unit_id: given(&query.unit_id).map(str::to_owned),
        since: time("since", &query.since)?,
        until: time("until", &query.until)?,
        deleted,
    };
    Ok((filters, after, size))
}

/// The list's URL with these filters and `after`.
pub(super) fn next_url(project_id: i64, query: &ListQuery, after: &Cursor) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("unit_id", &query.unit_id),
        ("since", &query.since),
        ("until", &query.until),
        ("deleted", &query.deleted),
        ("page_size", &query.page_size),
    ] {
        if let Some(value) = given(value) {
            url.append_pair(name, value);
        }
    }
    url.append_pair("after", &after.encode());
    format!("/projects/{project_id}/sessions?{}", url.finish())
}

/// What a path segment keeps as is: RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment, percent-encoded.
pub fn urlencode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_datetime_local_in_utc() {
        let at = |text| parse_time(text).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2026-11-30T10:00:00+01:00").as_deref(),
            Some("2026-11-30T09:00:00+00:00")
        );
        assert_eq!(
            at("2026-11-30T10:00").as_deref(),
            Some("2026-11-30T10:00:00+00:00")
        );
        assert_eq!(
            at("2026-11-30T10:00:05").as_deref(),
            Some("2026-11-30T10:00:05+00:00")
        );
        assert_eq!(at("yesterday"), None);
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let cursor = Cursor {
            micros: 1_764_000_000_123_456,
            id: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("42"), None);
        let query = ListQuery {
            after: Some("nope".into()),
            ..ListQuery::default()
        };
        assert_eq!(filters(&query).err(), Some(("after", "not a page cursor")));
        let query = ListQuery {
            page_size: Some("501".into()),
            ..ListQuery::default()
        };
        assert_eq!(filters(&query).err().map(|bad| bad.0), Some("page_size"));
    }
}
