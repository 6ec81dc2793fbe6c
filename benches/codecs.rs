//! Micro-benchmarks of the request-path codecs: body decoding with validation, and the queue
//! message encoding both ways. `make bench` runs them; compare against the previous run.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use intake::decode::{self, MultipartLimits};
use intake::ordering::Stamp;
use intake::session::{Limits, RawSession, Session};
use intake::wire::Upload;

/// A session of about 1 KB: ten text points and a small rawData.
fn json_body() -> Vec<u8> {
    let data: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|i| {
            (
                format!("point{i}"),
                format!("value number {i} of a typical field form").into(),
            )
        })
        .chain(std::iter::once((
            "sketch".to_owned(),
            serde_json::json!({"rawData": intake::session::encode_base64(&[7u8; 300])}),
        )))
        .collect();
    serde_json::to_vec(&serde_json::json!({"session": {
        "uuid": "12341234-12341234-1234-1234-123412341234", "unit_id": "device-0042",
        "created": 1_700_000_000, "saved": 1_700_000_100, "data": data}}))
    .unwrap_or_default()
}

fn form_body() -> Vec<u8> {
    let mut body =
        String::from("session[uuid]=s-1&session[unit_id]=device-0042&session[created]=1700000000");
    for i in 0..10 {
        body.push_str(&format!(
            "&session%5Bdata%5D%5Bpoint{i}%5D=value+number+{i}+of+a+typical+field+form"
        ));
    }
    body.into_bytes()
}

fn multipart_body(attachment: usize) -> Vec<u8> {
    let mut body = b"--bench\r\nContent-Disposition: form-data; name=\"session[unit_id]\"\r\n\r\ndevice-0042\r\n".to_vec();
    body.extend_from_slice(b"--bench\r\nContent-Disposition: form-data; name=\"session[data][photo]\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
    body.extend((0..attachment).map(|i| (i % 251) as u8));
    body.extend_from_slice(b"\r\n--bench--\r\n");
    body
}

/// The default point limit.
const MAX_POINTS: usize = 2_000;

fn parse(raw: RawSession) -> Option<Session> {
    raw.parse(&Limits::default(), 1_700_000_000).ok()
}

fn decoders(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode+validate");
    let json = json_body();
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json 1KB", |b| {
        b.iter(|| {
            decode::json::decode(black_box(&json), MAX_POINTS)
                .ok()
                .and_then(parse)
        })
    });
    let form = form_body();
    group.throughput(Throughput::Bytes(form.len() as u64));
    group.bench_function("urlencoded 10 points", |b| {
        b.iter(|| {
            decode::form::decode(black_box(&form), MAX_POINTS)
                .ok()
                .and_then(parse)
        })
    });
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let multipart = Bytes::from(multipart_body(100 * 1024));
    group.throughput(Throughput::Bytes(multipart.len() as u64));
    group.bench_function("multipart 100KB file", |b| {
        b.iter(|| {
            let chunks: Vec<Result<Bytes, std::io::Error>> = multipart
                .chunks(16 * 1024)
                .map(|c| Ok(multipart.slice_ref(c)))
                .collect();
            let stream = futures_util::stream::iter(chunks);
            let limits = MultipartLimits::default();
            runtime
                .block_on(decode::multipart::decode(stream, "bench".into(), &limits))
                .ok()
                .and_then(parse)
        })
    });
    group.finish();
}

fn wire(c: &mut Criterion) {
    let Some(session) = decode::json::decode(&json_body(), MAX_POINTS)
        .ok()
        .and_then(parse)
    else {
        return;
    };
    let upload = Upload::create(1, Stamp::now("bench"), session);
    let body = upload.encode();
    let mut group = c.benchmark_group("queue message");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("encode 1KB session", |b| {
        b.iter(|| black_box(&upload).encode())
    });
    group.bench_function("decode+check 1KB session", |b| {
        b.iter(|| Upload::decode(black_box(&body), &Limits::default()).ok())
    });
    group.finish();
}

criterion_group!(benches, decoders, wire);
criterion_main!(benches);
