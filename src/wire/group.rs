//! Several uploads in one queue message: the broker's cost is paid per message, so a front
//! under load sends the uploads that gathered while a publish was in flight as one.
//!
//! A group body is a MessagePack map `{version: 3, uploads: [bin, …]}` whose every element is
//! a whole single-upload body (schema 1 or 2) exactly as it would travel alone. A consumer
//! therefore checks each upload by itself, and an upload that can never be stored goes to the
//! dead letters as the single-upload message it always was.

use serde::{Deserialize, Serialize};

use super::{ByteCount, WireError};

/// The message schema of a group of uploads.
pub const GROUP_SCHEMA_VERSION: u32 = 3;
/// Content type of a group body.
pub const GROUP_CONTENT_TYPE: &str = "application/vnd.intake.upload-group+msgpack";
/// Header carrying the number of uploads in a group message.
pub const GROUP_SIZE_HEADER: &str = "x-intake-uploads";

#[derive(Serialize)]
struct GroupOut<'a> {
    version: u32,
    uploads: Vec<&'a serde_bytes::Bytes>,
}

#[derive(Deserialize)]
struct GroupIn<'a> {
    version: u32,
    #[serde(borrow)]
    uploads: Vec<&'a serde_bytes::Bytes>,
}

/// Encodes single-upload bodies (each from [`super::Upload::encode`]) as one group body, in a
/// buffer of exactly its size.
pub fn encode_group<B: AsRef<[u8]>>(bodies: &[B]) -> Vec<u8> {
    let group = GroupOut {
        version: GROUP_SCHEMA_VERSION,
        uploads: bodies
            .iter()
            .map(|body| serde_bytes::Bytes::new(body.as_ref()))
            .collect(),
    };
    let mut size = ByteCount(0);
    // Serializing a plain struct cannot fail, into a counter or a Vec.
    let _ = rmp_serde::encode::write_named(&mut size, &group);
    let mut out = Vec::with_capacity(size.0);
    let _ = rmp_serde::encode::write_named(&mut out, &group);
    out
}

/// The single-upload bodies a message carries: the group's elements for a group body, the
/// body itself otherwise (every earlier schema). Each is then decoded and checked with
/// [`super::Upload::decode`].
pub fn split_bodies(body: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    if leading_version(body) != Some(GROUP_SCHEMA_VERSION) {
        return Ok(vec![body]);
    }
    let group: GroupIn<'_> = rmp_serde::from_slice(body)
        .map_err(|error| WireError::Undecodable(format!("upload group: {error}")))?;
    if group.version != GROUP_SCHEMA_VERSION {
        return Err(WireError::UnsupportedVersion(group.version));
    }
    if group.uploads.is_empty() {
        return Err(WireError::BadEnvelope("an upload group holds no upload"));
    }
    Ok(group.uploads.into_iter().map(|bytes| &**bytes).collect())
}

/// Whether a body is a group, read from its first field alone.
pub fn is_group(body: &[u8]) -> bool {
    leading_version(body) == Some(GROUP_SCHEMA_VERSION)
}

/// The `version` field when it is the body's first (as every body we encode has it), read
/// without decoding the rest: a single upload is not walked twice.
fn leading_version(body: &[u8]) -> Option<u32> {
    let mut rest = body;
    rmp::decode::read_map_len(&mut rest).ok()?;
    let mut key = [0u8; 8];
    let name = rmp::decode::read_str(&mut rest, &mut key).ok()?;
    if name != "version" {
        return None;
    }
    rmp::decode::read_int(&mut rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Limits;
    use crate::wire::{SCHEMA_VERSION, Upload};

    fn single(version: u32) -> Vec<u8> {
        #[derive(Serialize)]
        struct Probe {
            version: u32,
            other: &'static str,
        }
        rmp_serde::to_vec_named(&Probe {
            version,
            other: "x",
        })
        .unwrap_or_default()
    }

    #[test]
    fn a_group_splits_into_its_bodies_in_order() {
        let bodies = vec![single(1), single(2), single(1)];
        let group = encode_group(&bodies);
        assert!(is_group(&group));
        let split = split_bodies(&group).unwrap_or_default();
        assert_eq!(split, bodies.iter().map(Vec::as_slice).collect::<Vec<_>>());
    }

    #[test]
    fn a_single_body_is_its_own_only_element() {
        for version in [1, 2, 7] {
            let body = single(version);
            assert!(!is_group(&body));
            assert_eq!(split_bodies(&body).unwrap_or_default(), vec![&body[..]]);
        }
        // Not MessagePack at all: handed on whole, for the upload decoder to report.
        assert_eq!(split_bodies(b"{}").unwrap_or_default(), vec![&b"{}"[..]]);
    }

    #[test]
    fn a_broken_or_empty_group_is_an_error() {
        let group = encode_group(&[single(1)]);
        assert!(split_bodies(group.get(..group.len() - 1).unwrap_or_default()).is_err());
        let empty: [Vec<u8>; 0] = [];
        assert!(matches!(
            split_bodies(&encode_group(&empty)),
            Err(WireError::BadEnvelope(_))
        ));
    }

    #[test]
    fn a_group_of_real_uploads_decodes_each_upload() {
        let upload = crate::wire::tests::sample();
        assert_eq!(leading_version(&upload.encode()), Some(SCHEMA_VERSION));
        let bodies = [upload.encode(), upload.encode()];
        let group = encode_group(&bodies);
        for body in split_bodies(&group).unwrap_or_default() {
            assert_eq!(
                Upload::decode(body, &Limits::default()).ok(),
                Some(upload.clone())
            );
        }
    }
}
