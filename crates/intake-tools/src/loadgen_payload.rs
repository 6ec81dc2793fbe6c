//! Request bodies for `intake loadgen`, built from templates prepared once per run so that
//! generating a body costs a few small copies, not an encoder pass: at thousands of requests
//! a second the generator must not be what limits the measurement.
//!
//! Every session has text points `p0 … p{n-1}` whose values derive from the request's
//! sequence number (see [`point_value`]), so verification can recompute what any upload
//! carried without keeping it. With `--attachment-bytes N > 0`, multipart bodies carry an N-byte
//! file as point `photo`, and JSON and urlencoded bodies a `rawData` point `sketch` of
//! `min(N, 64 KiB)` bytes (base64 inflates it by a third, and rawData is meant for small
//! binaries).

use std::fmt::Write as _;
use std::str::FromStr;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use intake::session::encode_base64;

/// The largest `rawData` a JSON or urlencoded body carries.
pub const MAX_RAW_BYTES: usize = 64 * 1024;
/// Point name of the multipart file.
pub const FILE_POINT: &str = "photo";
/// Point name of the embedded `rawData` binary.
pub const RAW_POINT: &str = "sketch";

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
}

/// Relative weights of the three encodings, e.g. `json=2,form=1,multipart=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mix {
    /// Weight of JSON bodies.
    pub json: u32,
    /// Weight of urlencoded bodies.
    pub form: u32,
    /// Weight of multipart bodies.
    pub multipart: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Self {
            json: 1,
            form: 1,
            multipart: 1,
        }
    }
}

impl FromStr for Mix {
    type Err = String;

    /// Parses `name=weight` pairs separated by commas; names left out weigh 0.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut mix = Self {
            json: 0,
            form: 0,
            multipart: 0,
        };
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected name=weight"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{pair:?}: the weight must be a whole number"))?;
            match name.trim() {
                "json" => mix.json = weight,
                "form" | "urlencoded" => mix.form = weight,
                "multipart" => mix.multipart = weight,
                other => {
                    return Err(format!(
                        "unknown encoding {other:?} (json, form, multipart)"
                    ));
                }
            }
        }
        if mix.total() == 0 {
            return Err("at least one weight must be positive".into());
        }
        Ok(mix)
    }
}

impl Mix {
    fn total(&self) -> u64 {
        u64::from(self.json) + u64::from(self.form) + u64::from(self.multipart)
    }

    /// The encoding for a uniform random number `r`: each is picked in proportion to its
    /// weight.
    pub fn pick(&self, r: u64) -> Encoding {
        let slot = r % self.total().max(1);
        if slot < u64::from(self.json) {
            Encoding::Json
        } else if slot < u64::from(self.json) + u64::from(self.form) {
            Encoding::Form
        } else {
            Encoding::Multipart
        }
    }
}

/// The text of point `p{k}` in the upload with sequence number `seq`.
pub fn point_value(seq: u64, k: usize) -> String {
    let mut value = String::new();
    push_point_value(&mut value, seq, k);
    value
}

/// Appends [`point_value`] without a string of its own: bodies are built per request.
fn push_point_value(body: &mut String, seq: u64, k: usize) {
    let _ = write!(body, "v{seq}-{k}");
}

/// The stored `points` object of an upload: its text points (binaries live elsewhere).
pub fn expected_points(seq: u64, points: usize) -> serde_json::Value {
    let map = (0..points)
        .map(|k| {
            (
                format!("p{k}"),
                serde_json::Value::String(point_value(seq, k)),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// What varies from one upload to the next.
#[derive(Debug, Clone, Copy)]
pub struct Fill<'a> {
    /// Session uuid.
    pub uuid: &'a str,
    /// Device unit id.
    pub unit_id: &'a str,
    /// Sequence number, from which point values derive.
    pub seq: u64,
    /// `created` and `saved`, unix seconds.
    pub now: i64,
}

/// Per-run body templates: every constant piece pre-encoded.
#[derive(Debug, Clone)]
pub struct Templates {
    json_points: Vec<String>,
    form_points: Vec<String>,
    multipart_points: Vec<String>,
    json_raw: String,
    form_raw: String,
    file_part: Vec<u8>,
    boundary: String,
    multipart_type: String,
}

impl Templates {
    /// Prepares bodies with `points` text points and an attachment of `attachment_bytes`.
    pub fn new(points: usize, attachment_bytes: usize) -> Self {
        let boundary = format!("intake-loadgen-{:016x}", rand::random::<u64>());
        let raw = pseudo_random_bytes(attachment_bytes.min(MAX_RAW_BYTES));
        let (json_raw, form_raw) = if attachment_bytes > 0 {
            let base64 = encode_base64(&raw);
            let escaped = utf8_percent_encode(&base64, NON_ALPHANUMERIC).to_string();
            (
                format!("\"{RAW_POINT}\":{{\"rawData\":\"{base64}\"}}"),
                format!("&session%5Bdata%5D%5B{RAW_POINT}%5D%5BrawData%5D={escaped}"),
            )
        } else {
            (String::new(), String::new())
        };
        let mut file_part = Vec::new();
        if attachment_bytes > 0 {
            file_part.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; \
                     name=\"session[data][{FILE_POINT}]\"; filename=\"{FILE_POINT}.bin\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            file_part.extend_from_slice(&pseudo_random_bytes(attachment_bytes));
            file_part.extend_from_slice(b"\r\n");
        }
        Self {
            json_points: (0..points).map(|k| format!("\"p{k}\":\"")).collect(),
            form_points: (0..points)
                .map(|k| format!("&session%5Bdata%5D%5Bp{k}%5D="))
                .collect(),
            multipart_points: (0..points)
                .map(|k| multipart_header(&boundary, &format!("session[data][p{k}]")))
                .collect(),
            json_raw,
            form_raw,
            file_part,
            multipart_type: format!("multipart/form-data; boundary={boundary}"),
            boundary,
        }
    }

    /// The content type and body of one upload. Uuids and unit ids are loadgen's own
    /// (letters, digits and `-`), so they need no escaping in any encoding.
    pub fn body(&self, encoding: Encoding, fill: &Fill<'_>) -> (&str, Vec<u8>) {
        match encoding {
            Encoding::Json => ("application/json", self.json(fill)),
            Encoding::Form => ("application/x-www-form-urlencoded", self.form(fill)),
            Encoding::Multipart => (&self.multipart_type, self.multipart(fill)),
        }
    }

    fn json(&self, fill: &Fill<'_>) -> Vec<u8> {
        let mut body =
            String::with_capacity(128 + self.json_points.len() * 24 + self.json_raw.len());
        let _ = write!(
            body,
            "{{\"session\":{{\"uuid\":\"{uuid}\",\"unit_id\":\"{unit_id}\",\"created\":{now},\
             \"saved\":{now},\"data\":{{",
            uuid = fill.uuid,
            unit_id = fill.unit_id,
            now = fill.now,
        );
        for (k, prefix) in self.json_points.iter().enumerate() {
            if k > 0 {
                body.push(',');
            }
            body.push_str(prefix);
            push_point_value(&mut body, fill.seq, k);
            body.push('"');
        }
        if !self.json_raw.is_empty() {
            if !self.json_points.is_empty() {
                body.push(',');
            }
            body.push_str(&self.json_raw);
        }
        body.push_str("}}}");
        body.into_bytes()
    }

    fn form(&self, fill: &Fill<'_>) -> Vec<u8> {
        let mut body =
            String::with_capacity(160 + self.form_points.len() * 40 + self.form_raw.len());
        let _ = write!(
            body,
            "session%5Buuid%5D={uuid}&session%5Bunit_id%5D={unit_id}&session%5Bcreated%5D={now}\
             &session%5Bsaved%5D={now}",
            uuid = fill.uuid,
            unit_id = fill.unit_id,
            now = fill.now,
        );
        for (k, prefix) in self.form_points.iter().enumerate() {
            body.push_str(prefix);
            push_point_value(&mut body, fill.seq, k);
        }
        body.push_str(&self.form_raw);
        body.into_bytes()
    }

    fn multipart(&self, fill: &Fill<'_>) -> Vec<u8> {
        let per_point = self.multipart_points.first().map_or(0, String::len) + 24;
        let mut body = Vec::with_capacity(
            600 + self.multipart_points.len() * per_point + self.file_part.len(),
        );
        let fields = [
            ("session[uuid]", fill.uuid.to_owned()),
            ("session[unit_id]", fill.unit_id.to_owned()),
            ("session[created]", fill.now.to_string()),
            ("session[saved]", fill.now.to_string()),
        ];
        for (name, value) in fields {
            body.extend_from_slice(multipart_header(&self.boundary, name).as_bytes());
            body.extend_from_slice(value.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        for (k, header) in self.multipart_points.iter().enumerate() {
            body.extend_from_slice(header.as_bytes());
            body.extend_from_slice(point_value(fill.seq, k).as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(&self.file_part);
        body.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        body
    }
}

fn multipart_header(boundary: &str, name: &str) -> String {
    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
}

/// Incompressible-looking bytes (xorshift), so attachments are not trivially small on the wire
/// (and PostgreSQL cannot compress them, as it cannot compress photos).
pub fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect()
}
