//! The Mobile Data Anywhere request signature.
//!
//! A client sends `X-API-Timestamp: <ts>` and `Authorization: Basic base64(user:password)`
//! where password = Base64(HMAC-SHA256(key = API secret, message = `name:<user>;timestamp:<ts>;`)).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "x-api-timestamp";

/// The password a client derives for `username` at `timestamp`.
pub fn password(username: &str, secret: &str, timestamp: i64) -> String {
    STANDARD.encode(signature(username, secret, timestamp))
}

fn signature(username: &str, secret: &str, timestamp: i64) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    mac.update(format!("name:{username};timestamp:{timestamp};").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The two headers a client sends, as `(name, value)` pairs.
pub fn headers(username: &str, secret: &str, timestamp: i64) -> [(String, String); 2] {
    let credentials = format!("{username}:{}", password(username, secret, timestamp));
    [
        ("X-API-Timestamp".into(), timestamp.to_string()),
        (
            "Authorization".into(),
            format!("Basic {}", STANDARD.encode(credentials)),
        ),
    ]
}

/// A request's claimed identity, taken from its headers but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name from the Basic credentials.
    pub username: String,
    /// The derived password the client sent.
    pub password: String,
    /// The signed timestamp.
    pub timestamp: i64,
}

/// Why a request is not authenticated. Every variant is a `403`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is absent, unreadable or given more than once.
    #[error("{0}")]
    Malformed(&'static str),
    /// The timestamp is outside the accepted window.
    #[error(
        "X-API-Timestamp is more than {0} seconds from server time; sync with GET /api/v1/time"
    )]
    Expired(i64),
    /// Unknown user or wrong signature (not told apart, so names cannot be probed).
    #[error("invalid credentials")]
    Invalid,
}

impl Credentials {
    /// Reads the `Authorization` and `X-API-Timestamp` header values.
    pub fn parse(authorization: Option<&str>, timestamp: Option<&str>) -> Result<Self, AuthError> {
        let timestamp = timestamp
            .ok_or(AuthError::Malformed("X-API-Timestamp header is required"))?
            .trim()
            .parse::<i64>()
            .map_err(|_| AuthError::Malformed("X-API-Timestamp must be unix seconds"))?;
        let encoded = authorization
            .ok_or(AuthError::Malformed("Authorization header is required"))?
            .trim();
        let encoded = match encoded.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => rest.trim(),
            _ => {
                return Err(AuthError::Malformed(
                    "Authorization must use the Basic scheme",
                ));
            }
        };
        let decoded = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or(AuthError::Malformed(
                "Authorization credentials are not valid base64",
            ))?;
        let (username, password) = decoded.split_once(':').ok_or(AuthError::Malformed(
            "Authorization credentials must be user:password",
        ))?;
        Ok(Self {
            username: username.to_owned(),
            password: password.to_owned(),
            timestamp,
        })
    }

    /// Checks that the timestamp is within `window_seconds` of `now`. Callers check this
    /// before they look the user up, so that known and unknown users get the same answer.
    pub fn check_window(&self, now: i64, window_seconds: i64) -> Result<(), AuthError> {
        if self.timestamp.abs_diff(now) > window_seconds.unsigned_abs() {
            return Err(AuthError::Expired(window_seconds));
        }
        Ok(())
    }

    /// Checks the timestamp window and, in constant time, the signature against `secret`.
    pub fn verify(&self, secret: &str, now: i64, window_seconds: i64) -> Result<(), AuthError> {
        self.check_window(now, window_seconds)?;
        let expected = password(&self.username, secret, self.timestamp);
        if bool::from(expected.as_bytes().ct_eq(self.password.as_bytes())) {
            Ok(())
        } else {
            Err(AuthError::Invalid)
        }
    }
}

/// A fresh random API secret: 32 bytes, URL-safe base64, never starting with `-` (a secret
/// that looks like a command-line flag would trip up every tool it is passed to).
pub fn generate_secret() -> String {
    use rand::RngCore as _;
    loop {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !secret.starts_with('-') {
            return secret;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_never_look_like_flags() {
        for _ in 0..2_000 {
            let secret = generate_secret();
            assert!(!secret.starts_with('-') && secret.len() == 43, "{secret}");
        }
    }

    #[test]
    fn known_answer_from_the_contract() {
        assert_eq!(
            password("username", "some-api-secret", 123_456_789),
            "gFUxSuDp1AexwedepvxGPOixhk4jsiinClqYGrjqkNc="
        );
    }

    fn signed(timestamp: i64) -> Credentials {
        let [(_, ts), (_, auth)] = headers("alice", "s3cret", timestamp);
        Credentials::parse(Some(&auth), Some(&ts)).unwrap()
    }

    #[test]
    fn headers_round_trip_and_verify() {
        let credentials = signed(1_000);
        assert_eq!(credentials.username, "alice");
        assert_eq!(credentials.verify("s3cret", 1_000, 300), Ok(()));
        assert_eq!(credentials.verify("s3cret", 1_300, 300), Ok(()));
    }

    #[test]
    fn wrong_secret_or_stale_timestamp_fails() {
        let credentials = signed(1_000);
        assert_eq!(
            credentials.verify("other", 1_000, 300),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            credentials.verify("s3cret", 1_301, 300),
            Err(AuthError::Expired(300))
        );
        assert_eq!(
            credentials.verify("s3cret", 699, 300),
            Err(AuthError::Expired(300))
        );
    }

    #[test]
    fn the_window_is_checked_without_a_secret() {
        let credentials = signed(1_000);
        assert_eq!(credentials.check_window(1_300, 300), Ok(()));
        assert_eq!(
            credentials.check_window(1_301, 300),
            Err(AuthError::Expired(300))
        );
    }

    #[test]
    fn a_signature_for_another_timestamp_fails() {
        let mut credentials = signed(1_000);
        credentials.timestamp = 1_001;
        assert_eq!(
            credentials.verify("s3cret", 1_000, 300),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let cases = [
            (None, Some("1")),
            (Some("Basic x"), None),
            (Some("Basic x"), Some("soon")),
            (Some("Bearer abc"), Some("1")),
            (Some("Basic !!!"), Some("1")),
            (Some("Basic dXNlcg=="), Some("1")), // "user", no colon
            (Some("Basic"), Some("1")),
        ];
        for (authorization, timestamp) in cases {
            assert!(
                matches!(
                    Credentials::parse(authorization, timestamp),
                    Err(AuthError::Malformed(_))
                ),
                "{authorization:?} {timestamp:?}"
            );
        }
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let mut credentials = signed(1_000);
        credentials.timestamp = i64::MIN;
        assert_eq!(
            credentials.verify("s3cret", i64::MAX, 300),
            Err(AuthError::Expired(300))
        );
    }
}
