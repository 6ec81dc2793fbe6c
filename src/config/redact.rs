//! Secrets in printable form: a URL keeps everything but its password (and password-like
//! query parameters), so `intake config show` says where it connects without leaking how.

use serde::{Serialize, Serializer};

use super::Secret;

const HIDDEN: &str = "[redacted]";

impl Secret {
    /// The value with its password hidden: a URL's user info password and query
    /// parameters named like a password; anything that is not a URL is hidden whole.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

/// Serialized redacted, so no serialization can leak a secret.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

fn redact_url(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else {
        return HIDDEN.into();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{HIDDEN}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if is_secret_key(key) => format!("{key}={HIDDEN}"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://intake:s3cret@db:5432/intake?sslmode=require&password=x"),
            "postgres://intake:[redacted]@db:5432/intake?sslmode=require&password=[redacted]"
        );
        assert_eq!(redact_url("amqp://guest@mq/%2f"), "amqp://guest@mq/%2f");
        assert_eq!(redact_url("amqp://u:p@w@mq"), "amqp://u:[redacted]@mq");
        assert_eq!(redact_url("plain secret"), "[redacted]");
    }
}
