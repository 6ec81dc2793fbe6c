//! `broker.url`: one AMQP URL or a list of them (the nodes of a cluster), checked when the
//! configuration loads so that a typo stops the process at start with a clear error.

use std::fmt;
use std::str::FromStr;

use lapin::uri::AMQPUri;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Secret;

/// The broker nodes to try, in order; never empty, every entry a parsable AMQP URL.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrls(Vec<Secret>);

/// Why `broker.url` was refused. Names the entry, never its text (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlsError {
    /// No URL at all.
    #[error("broker.url is empty: give one AMQP URL or a list of them")]
    Empty,
    /// An entry that is not an AMQP URL.
    #[error("broker.url entry {position} is not an AMQP URL: {reason}")]
    Unparsable {
        /// 1-based position in the list.
        position: usize,
        /// The parser's complaint.
        reason: String,
    },
}

/// As it was given: one URL, or a list; passwords redacted (see `Secret`).
impl Serialize for BrokerUrls {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(serializer),
            all => all.serialize(serializer),
        }
    }
}

impl BrokerUrls {
    /// Parses one URL or a comma-separated list (the form `AMQP_URL` takes).
    pub fn parse(text: &str) -> Result<Self, UrlsError> {
        Self::from_list(text.split(','))
    }

    /// Checks a list of URLs; blank entries are skipped.
    pub fn from_list<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
    ) -> Result<Self, UrlsError> {
        let urls: Vec<Secret> = entries
            .into_iter()
            .map(|entry| entry.as_ref().trim().to_owned())
            .filter(|entry| !entry.is_empty())
            .map(Secret::new)
            .collect();
        if urls.is_empty() {
            return Err(UrlsError::Empty);
        }
        for (index, url) in urls.iter().enumerate() {
            AMQPUri::from_str(url.expose()).map_err(|reason| UrlsError::Unparsable {
                position: index + 1,
                reason: reason.replace(url.expose(), "…"),
            })?;
        }
        Ok(Self(urls))
    }

    /// The URLs in the order they are tried.
    pub fn all(&self) -> &[Secret] {
        &self.0
    }

    /// How many nodes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true (an empty list is refused); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for BrokerUrls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} redacted broker URL(s)]", self.0.len())
    }
}

impl<'de> Deserialize<'de> for BrokerUrls {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(text) => Self::parse(&text),
            OneOrMany::Many(list) => Self::from_list(list),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_comma_separated_list_is_several_nodes_in_order() {
        let urls = BrokerUrls::parse("amqp://a:1/v, amqp://b:2/v,").unwrap();
        let texts: Vec<&str> = urls.all().iter().map(Secret::expose).collect();
        assert_eq!(texts, ["amqp://a:1/v", "amqp://b:2/v"]);
    }

    #[test]
    fn an_empty_list_and_a_bad_entry_are_refused_without_echoing_it() {
        assert_eq!(BrokerUrls::parse(" , "), Err(UrlsError::Empty));
        let error = BrokerUrls::parse("amqp://a/v,user:pw@b").unwrap_err();
        assert!(
            matches!(error, UrlsError::Unparsable { position: 2, .. }),
            "{error}"
        );
        assert!(!error.to_string().contains("pw"), "{error}");
    }
}
