//! Path segments and query parameters of the session routes, parsed into typed values or a
//! `400` envelope naming the parameter (axum's own rejections are plain text).

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::ApiError;
use crate::session::{MAX_UNIX_SECONDS, PointName, SessionUuid, parse_unix_seconds};
use crate::store::read::Position;

/// The path parameters, or a `400` when they cannot be read (e.g. invalid UTF-8).
pub fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted
        .map(|Path(value)| value)
        .map_err(|rejection| ApiError::field("path", rejection.body_text()))
}

/// A `{uuid}` path segment.
pub fn uuid(text: &str) -> Result<SessionUuid, ApiError> {
    SessionUuid::parse(text).map_err(|message| ApiError::field("uuid", message))
}

/// A `{point}` path segment, lower-cased like every point name.
pub fn point(text: &str) -> Result<PointName, ApiError> {
    PointName::parse(text).map_err(|message| ApiError::field("point", message))
}

/// The query string as name → value, percent-decoded; a repeated name keeps its last value.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string (absent is empty).
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|raw| {
                form_urlencoded::parse(raw.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A boolean flag: `true`/`false`, `1`/`0`, `yes`/`no`; given without a value it is true.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        let Some(value) = self.get(name) else {
            return Ok(false);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(ApiError::field(name, "must be true or false")),
        }
    }

    /// Unix seconds, if given.
    pub fn unix_seconds(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|value| {
                parse_unix_seconds(value).map_err(|message| ApiError::field(name, message))
            })
            .transpose()
    }

    /// Whether the client asked to wait until its write is stored (`?wait=stored`).
    pub fn wait_stored(&self) -> Result<bool, ApiError> {
        match self.get("wait") {
            None => Ok(false),
            Some("stored") => Ok(true),
            Some(_) => Err(ApiError::field("wait", "the only value is `stored`")),
        }
    }
}

/// The cursor a list page hands out: opaque to clients, the keyset position inside.
pub fn encode_cursor(position: Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", position.received_micros, position.id))
}

/// Reads a cursor back; anything that is not one of ours is a `400` naming `cursor`.
pub fn decode_cursor(text: &str) -> Result<Position, ApiError> {
    let invalid = || ApiError::field("cursor", "is not a cursor this API handed out");
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.split(':');
    let (Some("v1"), Some(micros), Some(id), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    let received_micros: i64 = micros.parse().map_err(|_| invalid())?;
    let id: i64 = id.parse().map_err(|_| invalid())?;
    // Receive times are stamps of a front's clock: a cursor outside 1970–9999 is forged (and
    // PostgreSQL's timestamps end before chrono's, so it would fail there as a 500).
    let latest = (MAX_UNIX_SECONDS + 1) * 1_000_000 - 1;
    if !(0..=latest).contains(&received_micros) {
        return Err(invalid());
    }
    Ok(Position {
        received_micros,
        id,
    })
}

/// The current unix time, for authorisation.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Convenience for handlers: authorise a project route and return the principal.
pub fn authorize(
    state: &super::AppState,
    headers: &HeaderMap,
    project_id: i64,
) -> Result<String, ApiError> {
    state.auth.authorize(headers, project_id, now())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let position = Position {
            received_micros: 1_700_000_000_123_456,
            id: 42,
        };
        assert_eq!(decode_cursor(&encode_cursor(position)).unwrap(), position);
        assert!(decode_cursor("").is_err());
        assert!(decode_cursor("!!!").is_err());
        for bad in ["v1:", "v2:1:2", "v1:x:1", "v1:1:2:3", "v1:1:y"] {
            let encoded = URL_SAFE_NO_PAD.encode(bad);
            assert!(decode_cursor(&encoded).is_err(), "{bad}");
        }
        // Out of range for chrono, or only for PostgreSQL (year -200000), or before 1970.
        for micros in [
            i64::MAX,
            -6_311_390_400_000_000_000,
            -1,
            253_402_300_800_000_000,
        ] {
            let forged = URL_SAFE_NO_PAD.encode(format!("v1:{micros}:1"));
            assert!(decode_cursor(&forged).is_err(), "{micros}");
        }
    }

    #[test]
    fn query_flags_and_times() {
        let query = Query::parse(Some("deleted&since=10&until=x&wait=stored&flag=nope"));
        assert!(query.flag("deleted").unwrap());
        assert!(!query.flag("absent").unwrap());
        assert!(query.flag("flag").is_err());
        assert_eq!(query.unix_seconds("since").unwrap(), Some(10));
        assert!(query.unix_seconds("until").is_err());
        assert!(query.wait_stored().unwrap());
        assert!(Query::parse(Some("wait=later")).wait_stored().is_err());
    }
}
